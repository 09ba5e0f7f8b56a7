"""Peer feedback in the grade: "The Technical Quality aspect of the grading will incorporate
peer feedback as well as the teaching staff feedback" — the reviews of a group's report blend
into each member's technical score with the course's peer share (20% by default), once the
peer-review deadline (May 1) has passed. Runs on SQLite and PostgreSQL; the rubric's
arithmetic needs no database."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from scalable_ai.course.clock import BERKELEY
from scalable_ai.course.policy.peer_review_rubric import peer_score, review_percent
from scalable_ai.course.service import Actor, activities, grades
from scalable_ai.course.service import peer_review_submissions as reviews
from scalable_ai.course.service.peer_feedback import review_summary
from scalable_ai.course.service.setup import update_settings
from scalable_ai.errors import Forbidden

WRITTEN = {
    "strengths": "A clear hypothesis.",
    "weaknesses": "One seed.",
    "suggestions": "Three seeds.",
}
ALL_FIVES = {
    "clarity_of_hypothesis": 5,
    "technical_depth": 5,
    "correctness": 5,
    "experimental_rigor": 5,
    "artifact_quality": 5,
}
ALL_THREES = dict.fromkeys(ALL_FIVES, 3)
STAFF_TECHNICAL = 80.0


# --- the rubric's arithmetic (pure) -----------------------------------------------------


def test_a_review_scores_its_points_out_of_the_most_it_could_earn():
    assert review_percent(ALL_FIVES) == 100.0
    assert review_percent(ALL_THREES) == 60.0  # "adequate" everywhere: the satisfactory line


def test_a_reports_peer_score_is_the_mean_of_its_reviews_and_none_without_one():
    assert peer_score([ALL_FIVES, ALL_THREES]) == pytest.approx(80.0)
    assert peer_score([]) is None


# --- in the grade -----------------------------------------------------------------------


@pytest.fixture
def reviewed(session, make_group, staff, clock):
    """Three groups in a review cycle, on Apr 28: ``(reviewer, reviewed)``; every member of
    the reviewed group has a staff technical score of 80."""
    groups = {g.id: g for g in (make_group(4) for _ in range(3))}
    pairs = activities.assign_peer_reviews(session, staff, seed=0, clock=clock)
    reviewer = groups[pairs[0].reviewer_group_id]
    reviewed = groups[pairs[0].reviewed_group_id]
    grades.record_group_score(
        session,
        staff,
        group_id=reviewed.id,
        item="project.technical.staff",
        points=STAFF_TECHNICAL,
        clock=clock,
    )
    clock.at = datetime(2026, 4, 28, 12, 0, tzinfo=BERKELEY)
    return reviewer, reviewed


def _review(session, reviewer, reviewed, scores, clock) -> None:
    reviews.submit_review(
        session, Actor.of(reviewer.members[0]), reviewed.id, {**scores, **WRITTEN}, clock=clock
    )


def _past_deadline(session, clock) -> None:
    clock.at = reviews.peer_review_due(session) + timedelta(minutes=1)


def _technical(session, staff, person, clock) -> float:
    report = grades.grade_of(session, staff, person.id, clock=clock).report
    return report.component("project.technical").score


@pytest.mark.parametrize("share", [0.2, 0.35])
def test_a_groups_peer_score_moves_technical_quality_by_exactly_the_peer_share(
    session, reviewed, staff, clock, share
):
    reviewer, group = reviewed
    update_settings(session, staff, {"peer_review_weight": share}, clock=clock)
    _review(session, reviewer, group, ALL_FIVES, clock)
    _past_deadline(session, clock)
    for member in group.members:
        moved = _technical(session, staff, member, clock) - STAFF_TECHNICAL
        assert moved == pytest.approx(share * (100.0 - STAFF_TECHNICAL))


def test_reviews_do_not_move_the_grade_before_the_peer_review_deadline(
    session, reviewed, staff, clock
):
    reviewer, group = reviewed
    _review(session, reviewer, group, ALL_FIVES, clock)
    assert _technical(session, staff, group.members[0], clock) == pytest.approx(STAFF_TECHNICAL)


def test_a_report_that_received_no_review_is_graded_on_the_staff_score_alone(
    session, reviewed, staff, clock
):
    _, group = reviewed
    _past_deadline(session, clock)
    report = grades.grade_of(session, staff, group.members[0].id, clock=clock).report
    assert report.component("project.technical").score == pytest.approx(STAFF_TECHNICAL)
    assert any(
        "no review" in note.message and "staff score alone" in note.message for note in report.notes
    )


def test_the_grade_report_says_where_the_peer_part_came_from(session, reviewed, staff, clock):
    reviewer, group = reviewed
    _review(session, reviewer, group, ALL_THREES, clock)
    _past_deadline(session, clock)
    report = grades.grade_of(session, staff, group.members[1].id, clock=clock).report
    assert (
        f"peer review: 1 review(s) of {group.name}'s report give 60.0, 20% of technical "
        "quality" in [note.message for note in report.notes]
    )


def test_a_peer_score_staff_record_by_hand_replaces_the_reviews(session, reviewed, staff, clock):
    reviewer, group = reviewed
    _review(session, reviewer, group, ALL_FIVES, clock)
    _past_deadline(session, clock)
    member = group.members[0]
    grades.record_score(
        session, staff, person_id=member.id, item="project.technical.peer", points=50, clock=clock
    )
    assert _technical(session, staff, member, clock) == pytest.approx(0.8 * 80 + 0.2 * 50)


def test_the_summary_is_for_staff_and_counts_reviews_written_and_received(
    session, reviewed, staff, clock
):
    reviewer, group = reviewed
    _review(session, reviewer, group, ALL_THREES, clock)
    summary = review_summary(session, staff, clock=clock)
    rows = {g.group_id: g for g in summary.groups}
    assert rows[group.id].peer_score == pytest.approx(60.0)
    assert (rows[reviewer.id].reviews_written, rows[reviewer.id].reviews_assigned) == (1, 1)
    assert not summary.released
    with pytest.raises(Forbidden):
        review_summary(session, Actor.of(group.members[0]), clock=clock)
