"""Grading (syllabus, "Grading and Policies"): scores per item, the weighted total, the
satisfactory gate on every component, the letter, and notes a student can read. A student
sees only their own grades. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from scalable_ai.course.service import Actor
from scalable_ai.course.service import grades as service
from scalable_ai.course.service.slack import spend_slack_day
from scalable_ai.course.tables import AuditEntry
from scalable_ai.errors import Forbidden, UserError


def _full_marks(session, staff, person_id, clock, **overrides):
    for item in service.score_items(session):
        if item == "enhancements":
            continue
        service.record_score(
            session,
            staff,
            person_id=person_id,
            item=item,
            points=overrides.get(item, 95.0),
            clock=clock,
        )


def test_a_student_with_every_component_satisfactory_gets_a_letter(session, enroll, staff, clock):
    (ada,) = enroll(1)
    _full_marks(session, staff, ada.id, clock)
    grade = service.grade_of(session, Actor.of(ada), ada.id, clock=clock)
    assert grade.report.passed and grade.report.letter == "A"
    assert grade.report.total == pytest.approx(95.0)


def test_failing_scribing_fails_the_class_whatever_the_total(session, enroll, staff, clock):
    (ada,) = enroll(1)
    _full_marks(session, staff, ada.id, clock, scribing=10.0)
    report = service.grade_of(session, staff, ada.id, clock=clock).report
    assert not report.passed and report.total > 90
    assert any("scribing" in note.message.lower() for note in report.notes)


def test_slack_day_notes_appear_in_the_grade_report(session, make_group, staff, clock):
    group = make_group(4)
    spend_slack_day(session, staff, group_id=group.id, assignment="A2", clock=clock)
    report = service.grade_of(session, staff, group.members[0].id, clock=clock).report
    assert "slack day 1 of 3 used on A2" in [n.message for n in report.notes]


def test_a_group_score_goes_to_every_member_and_is_audited(session, make_group, staff, clock):
    group = make_group(5)
    service.record_group_score(
        session, staff, group_id=group.id, item="A1.code", points=42, max_points=50, clock=clock
    )
    for member in group.members:
        (score,) = service.scores_of(session, staff, member.id)
        assert (score.item, score.points, score.max_points) == ("A1.code", 42, 50)
    entries = session.scalars(select(AuditEntry).where(AuditEntry.action == "score.record"))
    assert len(entries.all()) == 5


def test_a_score_change_is_audited_with_before_and_after(session, enroll, staff, clock):
    (ada,) = enroll(1)
    service.record_score(session, staff, person_id=ada.id, item="scribing", points=50, clock=clock)
    service.record_score(session, staff, person_id=ada.id, item="scribing", points=80, clock=clock)
    last = session.scalars(
        select(AuditEntry).where(AuditEntry.action == "score.record").order_by(AuditEntry.id.desc())
    ).first()
    assert (last.before["points"], last.after["points"]) == (50, 80)


def test_an_exception_never_lowers_a_score_already_earned(session, enroll, staff, clock):
    (ada,) = enroll(1)
    service.record_score(session, staff, person_id=ada.id, item="A1.code", points=80, clock=clock)
    row = service.record_score(
        session,
        staff,
        person_id=ada.id,
        item="A1.code",
        points=60,
        under_exception=True,
        clock=clock,
    )
    assert row.points == 80


def test_a_student_sees_only_their_own_grades(session, enroll, clock):
    ada, bob = enroll(2)
    with pytest.raises(Forbidden):
        service.grade_of(session, Actor.of(ada), bob.id, clock=clock)
    with pytest.raises(Forbidden):
        service.scores_of(session, Actor.of(ada), bob.id)
    with pytest.raises(Forbidden):
        service.gradebook(session, Actor.of(ada), clock=clock)


def test_scores_out_of_range_or_for_unknown_items_are_refused(session, enroll, staff, clock):
    (ada,) = enroll(1)
    with pytest.raises(UserError) as caught:
        service.record_score(
            session, staff, person_id=ada.id, item="A1.code", points=120, clock=clock
        )
    assert caught.value.field == "points"
    with pytest.raises(UserError) as caught:
        service.record_score(
            session, staff, person_id=ada.id, item="A9.code", points=1, clock=clock
        )
    assert caught.value.field == "item"


def test_a_what_if_grade_fills_pending_items_and_stores_nothing(session, enroll, staff, clock):
    """Canvas's what-if: the student types expected scores for pending work."""
    (ada,) = enroll(1)
    service.record_score(session, staff, person_id=ada.id, item="scribing", points=100, clock=clock)
    real = service.grade_of(session, Actor.of(ada), ada.id, clock=clock).running
    dreamt = service.grade_of(
        session,
        Actor.of(ada),
        ada.id,
        clock=clock,
        what_if={"A1.code": 100, "A1.written": 100, "A1.checkoff": 100},
    ).running
    assert dreamt.what_if and dreamt.gate("A1.core").so_far == pytest.approx(100)
    assert real.gate("A1.core").so_far is None
    assert [s.item for s in service.scores_of(session, staff, ada.id)] == ["scribing"]
    with pytest.raises(UserError) as caught:
        service.grade_of(session, Actor.of(ada), ada.id, clock=clock, what_if={"A1.code": 140})
    assert caught.value.field == "what_if"


def test_mid_semester_no_student_fails_for_work_not_graded_yet(session, enroll, staff, clock):
    """Issue 13: on Mar 5 every student read "F — failing: a component is unsatisfactory"."""
    (ada,) = enroll(1)
    for part in ("code", "written", "checkoff"):
        service.record_score(
            session, staff, person_id=ada.id, item=f"A1.{part}", points=90, clock=clock
        )
    grade = service.grade_of(session, Actor.of(ada), ada.id, clock=clock)
    assert grade.running.gate("A1.core").status == "satisfactory"
    assert grade.running.gate("scribing").status == "pending"
    assert grade.running.standing != "failing" and grade.running.letter == ""
