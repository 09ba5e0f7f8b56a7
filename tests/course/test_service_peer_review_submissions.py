"""Peer review, the review itself: "each group will provide a structured, constructive review
of another group's report" scoring the technical-quality criteria ("clarity of hypothesis,
technical depth, correctness, experimental rigor, and quality of the final artifact"), due
May 1. Runs on SQLite and PostgreSQL; the rubric's pure rules need no database."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from scalable_ai.course.clock import BERKELEY
from scalable_ai.course.community.service.project import submit_deliverable
from scalable_ai.course.policy.peer_review_rubric import CRITERIA, WRITTEN_PARTS, check_review
from scalable_ai.course.service import Actor, activities
from scalable_ai.course.service import peer_review_submissions as service
from scalable_ai.errors import Conflict, Forbidden, UserError

AFTER_DRAFT = datetime(2026, 4, 28, 12, 0, tzinfo=BERKELEY)
REVIEW = {
    "clarity_of_hypothesis": "4",
    "technical_depth": "3",
    "correctness": "5",
    "experimental_rigor": "2",
    "artifact_quality": "4",
    "strengths": "A clear, falsifiable hypothesis with a success metric.",
    "weaknesses": "One seed per configuration; no error bars.",
    "suggestions": "Run three seeds and report the spread.",
}


@pytest.fixture
def paired(session, make_group, staff, clock):
    """Three groups in a review cycle on Apr 28: ``(reviewer, reviewed, bystander)`` where
    the bystander reviews the reviewer."""
    groups = {g.id: g for g in (make_group(4) for _ in range(3))}
    pairs = activities.assign_peer_reviews(session, staff, seed=0, clock=clock)
    reviews = {p.reviewer_group_id: p.reviewed_group_id for p in pairs}
    reviewer = groups[pairs[0].reviewer_group_id]
    reviewed = groups[reviews[reviewer.id]]
    bystander = groups[reviews[reviewed.id]]
    clock.at = AFTER_DRAFT
    return reviewer, reviewed, bystander


def member(group, i: int = 0) -> Actor:
    return Actor.of(group.members[i])


# --- the rubric (pure) --------------------------------------------------------------------


@pytest.mark.parametrize("field", [key for key, _ in CRITERIA + WRITTEN_PARTS])
def test_every_score_and_written_part_is_required_and_named(field):
    with pytest.raises(UserError) as caught:
        check_review({**REVIEW, field: ""})
    assert caught.value.field == field
    assert dict(CRITERIA + WRITTEN_PARTS)[field] in caught.value.message


@pytest.mark.parametrize("score", ["0", "6", "three"])
def test_a_score_is_a_whole_number_from_1_to_5(score):
    with pytest.raises(UserError) as caught:
        check_review({**REVIEW, "correctness": score})
    assert caught.value.field == "correctness"
    assert "1 to 5" in caught.value.message


# --- the service --------------------------------------------------------------------------


def test_any_member_of_the_reviewing_group_submits_the_structured_review(session, paired, clock):
    reviewer, reviewed, _ = paired
    row = service.submit_review(session, member(reviewer, 2), reviewed.id, REVIEW, clock=clock)
    assert (
        row.clarity_of_hypothesis,
        row.technical_depth,
        row.correctness,
        row.experimental_rigor,
        row.artifact_quality,
    ) == (4, 3, 5, 2, 4)
    assert row.suggestions == REVIEW["suggestions"]
    pairing = next(
        p
        for p in activities.list_peer_reviews(session, member(reviewer))
        if p.reviewer_group_id == reviewer.id
    )
    assert pairing.submitted_at == clock.now()


def test_the_review_is_edited_in_place_until_the_deadline(session, paired, clock):
    reviewer, reviewed, _ = paired
    first = service.submit_review(session, member(reviewer), reviewed.id, REVIEW, clock=clock)
    clock.at = service.peer_review_due(session)
    again = service.submit_review(
        session, member(reviewer, 1), reviewed.id, {**REVIEW, "correctness": "3"}, clock=clock
    )
    assert again.id == first.id and again.correctness == 3
    assert service.my_review_of(session, member(reviewer), reviewed.id).correctness == 3


def test_the_review_is_refused_after_the_peer_review_deadline(session, paired, clock):
    reviewer, reviewed, _ = paired
    clock.at = service.peer_review_due(session) + timedelta(minutes=1)
    with pytest.raises(Conflict) as caught:
        service.submit_review(session, member(reviewer), reviewed.id, REVIEW, clock=clock)
    assert "closed" in caught.value.message


def test_peer_review_is_due_on_may_1(session):
    assert service.peer_review_due(session).astimezone(BERKELEY).date().isoformat() == "2026-05-01"


def test_no_group_reviews_its_own_report(session, paired, clock):
    reviewer, _, _ = paired
    with pytest.raises(UserError) as caught:
        service.submit_review(session, member(reviewer), reviewer.id, REVIEW, clock=clock)
    assert "own report" in caught.value.message


def test_a_group_reviews_only_the_report_it_was_assigned(session, paired, clock):
    reviewer, _, bystander = paired
    with pytest.raises(Forbidden):
        service.submit_review(session, member(reviewer), bystander.id, REVIEW, clock=clock)
    with pytest.raises(Forbidden):
        service.assigned_report(session, member(reviewer), bystander.id)


def test_the_reviewing_group_reads_the_assigned_draft_report(session, paired, clock):
    reviewer, reviewed, _ = paired
    assert service.assigned_report(session, member(reviewer), reviewed.id) is None
    for version in (1, 2):
        submit_deliverable(
            session,
            member(reviewed),
            reviewed.id,
            kind="draft_report",
            link=f"https://example.org/draft-v{version}.pdf",
            integrity_statement="none",
            clock=clock,
        )
        clock.advance(hours=1)
    draft = service.assigned_report(session, member(reviewer), reviewed.id)
    assert draft is not None and draft.link == "https://example.org/draft-v2.pdf"
    assert draft.late  # due Apr 26; handed in Apr 28


def test_staff_see_every_review_but_do_not_write_one(session, paired, staff, clock):
    reviewer, reviewed, bystander = paired
    service.submit_review(session, member(reviewer), reviewed.id, REVIEW, clock=clock)
    service.submit_review(session, member(bystander), reviewer.id, REVIEW, clock=clock)
    assert len(service.list_reviews(session, staff)) == 2
    assert len(service.reviews_of(session, staff, reviewed.id, clock=clock)) == 1
    with pytest.raises(Forbidden):
        service.submit_review(session, staff, reviewed.id, REVIEW, clock=clock)
    with pytest.raises(Forbidden):
        service.list_reviews(session, member(reviewer))


def test_the_reviewed_group_reads_its_reviews_after_the_deadline(session, paired, clock):
    reviewer, reviewed, _ = paired
    service.submit_review(session, member(reviewer), reviewed.id, REVIEW, clock=clock)
    with pytest.raises(Forbidden) as caught:
        service.reviews_of(session, member(reviewed), reviewed.id, clock=clock)
    assert "after the peer-review deadline" in caught.value.message
    clock.at = service.peer_review_due(session) + timedelta(minutes=1)
    rows = service.reviews_of(session, member(reviewed, 3), reviewed.id, clock=clock)
    assert [r.reviewer_group_id for r in rows] == [reviewer.id]


def test_another_group_never_reads_the_reviews_of_a_report(session, paired, clock):
    reviewer, reviewed, bystander = paired
    service.submit_review(session, member(reviewer), reviewed.id, REVIEW, clock=clock)
    clock.at = service.peer_review_due(session) + timedelta(days=1)
    with pytest.raises(Forbidden):
        service.reviews_of(session, member(bystander), reviewed.id, clock=clock)
