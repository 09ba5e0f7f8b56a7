"""Late policy (syllabus): "3 total slack days ... At most one slack day may be applied to any
single assignment. Slack days extend the deadline by 24 hours. No other late work is accepted
without an approved exception." Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from scalable_ai.course.clock import BERKELEY, FixedClock
from scalable_ai.course.service import Actor
from scalable_ai.course.service import slack as slack_service
from scalable_ai.course.service.submissions import list_submissions, submit
from scalable_ai.course.tables import AuditEntry, SlackDayUse, Submission
from scalable_ai.errors import Conflict, Forbidden, NotFound, UserError

NONE_USED = {"external_code": "none", "sources": "none", "ai_assistance": "none"}
A1_DUE = datetime(2026, 2, 10, 23, 59, tzinfo=BERKELEY)


def _count(session, table) -> int:
    return session.scalar(select(func.count()).select_from(table))


def test_an_on_time_submission_records_the_deadline_that_applied(session, make_group, clock):
    group = make_group(4)
    row = submit(
        session, Actor.of(group.members[0]), assignment="A1", integrity=NONE_USED, clock=clock
    )
    assert row.deadline_applied == A1_DUE and not row.slack_day_used


def test_nothing_is_handed_in_before_the_assignment_is_released(session, make_group):
    group = make_group(4)
    before_a2 = FixedClock(datetime(2026, 2, 9, 23, 59, tzinfo=BERKELEY))
    with pytest.raises(UserError, match="A2 is released on Tue Feb 10") as caught:
        submit(
            session,
            Actor.of(group.members[0]),
            assignment="A2",
            integrity=NONE_USED,
            clock=before_a2,
        )
    assert caught.value.field == "assignment" and _count(session, Submission) == 0
    release_day = FixedClock(datetime(2026, 2, 10, 0, 0, tzinfo=BERKELEY))
    assert (
        submit(
            session,
            Actor.of(group.members[0]),
            assignment="A2",
            integrity=NONE_USED,
            clock=release_day,
        ).submitted_at
        == release_day.now()
    )


def test_every_submission_carries_an_integrity_statement(session, make_group, clock):
    group = make_group(4)
    with pytest.raises(UserError) as caught:
        submit(
            session,
            Actor.of(group.members[0]),
            assignment="A1",
            integrity={"external_code": "none", "sources": "none"},
            clock=clock,
        )
    assert caught.value.field == "integrity.ai_assistance"


def test_a_late_submission_within_24_hours_needs_the_submitter_to_confirm_a_slack_day(
    session, make_group
):
    group = make_group(4)
    late = FixedClock(A1_DUE + timedelta(hours=10))
    me = Actor.of(group.members[0])
    with pytest.raises(Conflict) as caught:
        submit(session, me, assignment="A1", integrity=NONE_USED, clock=late)
    assert caught.value.field == "confirm_slack_day"
    assert _count(session, Submission) == 0 and _count(session, SlackDayUse) == 0
    row = submit(
        session, me, assignment="A1", integrity=NONE_USED, confirm_slack_day=True, clock=late
    )
    assert row.slack_day_used and row.deadline_applied == A1_DUE + timedelta(hours=24)
    assert _count(session, SlackDayUse) == 4  # charged to every member


def test_a_submission_after_the_applied_deadline_is_refused_and_nothing_is_stored(
    session, make_group
):
    group = make_group(4)
    too_late = FixedClock(A1_DUE + timedelta(hours=25))
    with pytest.raises(Conflict, match="not accepted without an approved exception"):
        submit(
            session,
            Actor.of(group.members[0]),
            assignment="A1",
            integrity=NONE_USED,
            confirm_slack_day=True,
            clock=too_late,
        )
    assert _count(session, Submission) == 0 and _count(session, SlackDayUse) == 0


def test_an_approved_group_exception_applies_to_every_member(session, make_group, staff):
    group = make_group(4)
    new_deadline = A1_DUE + timedelta(days=3)
    slack_service.grant_exception(
        session,
        staff,
        group_id=group.id,
        assignment="A1",
        new_deadline=new_deadline,
        reason="node outage",
        clock=FixedClock(A1_DUE),
    )
    row = submit(
        session,
        Actor.of(group.members[3]),
        assignment="A1",
        integrity=NONE_USED,
        clock=FixedClock(A1_DUE + timedelta(days=2)),
    )
    assert row.deadline_applied == new_deadline and not row.slack_day_used


def test_three_slack_days_and_a_fourth_is_refused(session, make_group, clock):
    group = make_group(4)
    me = Actor.of(group.members[0])
    for key in ("A1", "A2", "A3"):
        slack_service.spend_slack_day(session, me, group_id=group.id, assignment=key, clock=clock)
    before = _count(session, SlackDayUse)
    with pytest.raises(Conflict, match="used all 3 slack days"):
        slack_service.spend_slack_day(session, me, group_id=group.id, assignment="A4", clock=clock)
    assert _count(session, SlackDayUse) == before
    balance = slack_service.slack_balance(session, me, group.members[0].id)
    assert (balance.used, balance.left) == (3, 0)
    assert balance.notes[1] == "slack day 2 of 3 used on A2"


def test_at_most_one_slack_day_per_assignment(session, make_group, clock):
    group = make_group(4)
    me = Actor.of(group.members[0])
    slack_service.spend_slack_day(session, me, group_id=group.id, assignment="A1", clock=clock)
    with pytest.raises(Conflict, match="at most one slack day per assignment"):
        slack_service.spend_slack_day(session, me, group_id=group.id, assignment="A1", clock=clock)


def test_balances_follow_a_student_who_changes_group(session, make_group, staff, clock):
    first, second = make_group(4), make_group(4)
    mover = first.members[0]
    slack_service.spend_slack_day(session, staff, group_id=first.id, assignment="A1", clock=clock)
    from scalable_ai.course.service.groups import move_student

    move_student(session, staff, mover.id, to_group_id=second.id, clock=clock)
    assert slack_service.slack_balance(session, staff, mover.id).left == 2
    assert slack_service.slack_balance(session, staff, second.members[0].id).left == 3


def test_only_staff_reverse_a_slack_day_and_the_ledger_keeps_it(session, make_group, staff, clock):
    group = make_group(4)
    me = Actor.of(group.members[0])
    rows = slack_service.spend_slack_day(
        session, me, group_id=group.id, assignment="A1", clock=clock
    )
    with pytest.raises(Forbidden):
        slack_service.reverse_slack_day(session, me, rows[0].id, reason="oops", clock=clock)
    reversed_rows = slack_service.reverse_slack_day(
        session, staff, rows[0].id, reason="grading error", clock=clock
    )
    assert len(reversed_rows) == 4
    assert _count(session, SlackDayUse) == 4
    assert slack_service.slack_balance(session, staff, group.members[1].id).left == 3
    actions = session.scalars(select(AuditEntry.action)).all()
    assert actions.count("slack_day.reverse") == 4


def test_a_student_cannot_spend_another_groups_slack_days(session, make_group, clock):
    mine, other = make_group(4), make_group(4)
    with pytest.raises(Forbidden):
        slack_service.spend_slack_day(
            session, Actor.of(mine.members[0]), group_id=other.id, assignment="A1", clock=clock
        )


def test_unknown_assignments_are_not_found(session, make_group, clock):
    group = make_group(4)
    with pytest.raises(NotFound, match="no assignment 'A9'"):
        slack_service.spend_slack_day(
            session, Actor.of(group.members[0]), group_id=group.id, assignment="A9", clock=clock
        )


def test_a_student_sees_only_their_groups_submissions(session, make_group, clock):
    mine, other = make_group(4), make_group(4)
    submit(session, Actor.of(other.members[0]), assignment="A1", integrity=NONE_USED, clock=clock)
    assert list_submissions(session, Actor.of(mine.members[0])) == []
    with pytest.raises(Forbidden):
        list_submissions(session, Actor.of(mine.members[0]), group_id=other.id)


def test_a_student_sees_the_deadline_that_applies_to_them(session, make_group, staff, clock):
    from scalable_ai.course.service.submissions import assignment_statuses

    group = make_group(4)
    me = group.members[0]
    slack_service.spend_slack_day(session, staff, group_id=group.id, assignment="A1", clock=clock)
    slack_service.grant_exception(
        session,
        staff,
        person_id=me.id,
        assignment="A2",
        new_deadline=datetime(2026, 3, 1, 23, 59, tzinfo=BERKELEY),
        reason="conference travel",
        clock=clock,
    )
    statuses = {s.assignment.key: s for s in assignment_statuses(session, Actor.of(me), me.id)}
    assert statuses["A1"].deadline == A1_DUE + timedelta(hours=24)
    assert statuses["A2"].exception_reason == "conference travel"
    assert statuses["A3"].deadline == statuses["A3"].due
    with pytest.raises(Forbidden):
        assignment_statuses(session, Actor.of(me), group.members[1].id)


def test_a_course_setting_makes_the_slack_pool_per_group(session, make_group, staff, clock):
    from scalable_ai.course.service.course import load_course

    course = load_course(session)
    course.settings = {**course.settings, "slack_pool": "per_group"}
    session.flush()
    group = make_group(4)
    for key in ("A1", "A2", "A3"):
        slack_service.spend_slack_day(
            session, staff, group_id=group.id, assignment=key, clock=clock
        )
    with pytest.raises(Conflict, match=f"group {group.name} has used all 3 slack days"):
        slack_service.spend_slack_day(
            session, staff, group_id=group.id, assignment="A4", clock=clock
        )


def test_an_exception_earlier_than_the_deadline_must_be_confirmed_as_shortening_it(
    session, make_group, staff
):
    """An exception gives more time; one that shortens the deadline needs ``shorten``."""
    group = make_group(4)
    earlier = A1_DUE - timedelta(days=2)
    with pytest.raises(Conflict, match="moves A1's deadline earlier") as refused:
        slack_service.grant_exception(
            session,
            staff,
            group_id=group.id,
            assignment="A1",
            new_deadline=earlier,
            reason="typo",
            clock=FixedClock(earlier - timedelta(days=5)),
        )
    assert refused.value.field == "shorten"
    row = slack_service.grant_exception(
        session,
        staff,
        group_id=group.id,
        assignment="A1",
        new_deadline=earlier,
        reason="moved on purpose",
        clock=FixedClock(earlier - timedelta(days=5)),
        shorten=True,
    )
    assert row.new_deadline == earlier
