"""Syllabus, "Late policy (Assignments)": 3 total slack days, at most one per assignment,
each extends the deadline by 24 hours, no other late work without an approved exception."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest

from scalable_ai.course.clock import BERKELEY
from scalable_ai.course.policy.late import (
    ApprovedException,
    SlackDayUse,
    Verdict,
    applied_deadline,
    deadline_at,
    exception_for,
    group_slack_days_left,
    judge_submission,
    reverse_slack_day,
    score_after_exception,
    slack_day_note,
    slack_day_refusal,
    slack_days_left,
    spend_slack_day,
)
from scalable_ai.course.policy.settings import CourseSettings, SlackPool
from scalable_ai.errors import Conflict, Forbidden, UserError

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=BERKELEY)
GROUP = ("ana", "ben", "cai", "dee")
A2_DUE = deadline_at(date(2026, 2, 24))


def spend(ledger, assignment, members=GROUP, group="g1", settings=None):
    return [*ledger, *spend_slack_day(members, assignment, ledger, NOW, "ana", settings, group)]


def test_deadline_is_the_due_date_at_2359_berkeley_time():
    due = deadline_at(date(2026, 2, 10))
    assert due == datetime(2026, 2, 10, 23, 59, tzinfo=BERKELEY)
    assert due.utcoffset() == timedelta(hours=-8)


def test_deadline_time_of_day_is_a_course_setting():
    settings = CourseSettings(deadline_time=time(17, 0))
    assert deadline_at(date(2026, 4, 7), settings).time() == time(17, 0)
    assert deadline_at(date(2026, 4, 7), settings).utcoffset() == timedelta(hours=-7)  # PDT


def test_three_total_slack_days_across_the_semester():
    ledger = []
    for assignment in ("A1", "A2", "A3"):
        assert slack_days_left("ana", ledger) == 3 - len({e.assignment for e in ledger})
        ledger = spend(ledger, assignment)
    assert slack_days_left("ana", ledger) == 0
    with pytest.raises(Conflict, match="used all 3 slack days"):
        spend(ledger, "A4")


def test_at_most_one_slack_day_per_assignment():
    ledger = spend([], "A2")
    with pytest.raises(Conflict, match="at most one slack day per assignment") as info:
        spend(ledger, "A2")
    assert info.value.field == "slack_day"


def test_a_group_slack_day_is_charged_to_every_member():
    ledger = spend([], "A1")
    assert [e.student for e in ledger] == list(GROUP)
    assert all(slack_days_left(m, ledger) == 2 for m in GROUP)


def test_a_group_spends_a_slack_day_only_while_every_member_has_one_left():
    # dee spent three with a previous group; the new group cannot spend one on A4.
    ledger = spend([], "A1", members=("dee", "x", "y", "z"), group="old")
    ledger = spend(ledger, "A2", members=("dee", "x", "y", "z"), group="old")
    ledger = spend(ledger, "A3", members=("dee", "x", "y", "z"), group="old")
    reason = slack_day_refusal(GROUP, "A4", ledger, group="g1")
    assert reason is not None and reason.startswith("dee has used all 3 slack days")


def test_balances_stay_right_after_a_student_changes_group():
    ledger = spend([], "A1", members=("ana", "ben", "cai", "dee"), group="g1")
    # ben moves to g2 and g2 spends on A2: ben has 1 left, ana still 2, the g2 others 2.
    ledger = spend(ledger, "A2", members=("ben", "eve", "fay", "gus"), group="g2")
    assert slack_days_left("ben", ledger) == 1
    assert slack_days_left("ana", ledger) == 2
    assert slack_days_left("eve", ledger) == 2


def test_per_group_slack_pool_is_a_course_setting():
    settings = CourseSettings(slack_pool=SlackPool.PER_GROUP)
    ledger = []
    for assignment in ("A1", "A2", "A3"):
        ledger = spend(ledger, assignment, settings=settings)
    assert group_slack_days_left("g1", ledger, settings) == 0
    with pytest.raises(Conflict, match="group g1 has used all 3"):
        spend(ledger, "A4", settings=settings)
    # a newcomer does not bring fresh days into a per-group pool
    with pytest.raises(Conflict):
        spend(ledger, "A4", members=(*GROUP, "new"), settings=settings)


def test_a_slack_day_extends_the_deadline_by_exactly_24_hours():
    just_in = judge_submission(A2_DUE + timedelta(hours=24), A2_DUE, confirm_slack_day=True)
    assert just_in.verdict is Verdict.ACCEPTED_WITH_SLACK_DAY
    assert just_in.applied_deadline == A2_DUE + timedelta(hours=24)
    one_second_more = judge_submission(
        A2_DUE + timedelta(hours=24, seconds=1), A2_DUE, confirm_slack_day=True
    )
    assert one_second_more.verdict is Verdict.REJECTED


def test_on_time_submission_spends_nothing():
    verdict = judge_submission(A2_DUE, A2_DUE, confirm_slack_day=True)
    assert verdict.verdict is Verdict.ON_TIME and not verdict.spends_slack_day


def test_a_late_submission_spends_a_slack_day_only_when_the_submitter_confirms():
    late = A2_DUE + timedelta(minutes=5)
    unconfirmed = judge_submission(late, A2_DUE)
    assert unconfirmed.verdict is Verdict.NEEDS_SLACK_DAY and not unconfirmed.accepted
    confirmed = judge_submission(late, A2_DUE, confirm_slack_day=True)
    assert confirmed.spends_slack_day and confirmed.accepted


def test_a_resubmission_within_an_applied_slack_day_spends_no_second_one():
    verdict = judge_submission(A2_DUE + timedelta(hours=3), A2_DUE, slack_already_applied=True)
    assert verdict.verdict is Verdict.ACCEPTED_WITH_SLACK_DAY and not verdict.spends_slack_day


def test_late_without_slack_days_left_is_not_accepted():
    verdict = judge_submission(
        A2_DUE + timedelta(hours=1),
        A2_DUE,
        confirm_slack_day=True,
        slack_refusal="ana has used all 3 slack days",
    )
    assert verdict.verdict is Verdict.REJECTED and "used all 3" in verdict.message


def test_no_other_late_work_is_accepted_without_an_approved_exception():
    two_days_late = A2_DUE + timedelta(days=2)
    assert (
        judge_submission(two_days_late, A2_DUE, confirm_slack_day=True).verdict is Verdict.REJECTED
    )
    exception = ApprovedException(
        target="A2",
        new_deadline=A2_DUE + timedelta(days=3),
        reason="illness",
        approved_by="Prof. Sahai",
        approved_at=NOW,
        student="ana",
    )
    verdict = judge_submission(two_days_late, A2_DUE, exception=exception)
    assert verdict.verdict is Verdict.ACCEPTED_BY_EXCEPTION
    assert verdict.applied_deadline == exception.new_deadline


def test_an_exception_earlier_than_an_applied_slack_day_does_not_shorten_it():
    """An exception grants time: with a slack day already applied (deadline due + 24 h), an
    exception to due + 10 h leaves the 24 hours, both in what the student is shown and in the
    verdict on a submission 20 hours late."""
    exception = ApprovedException(
        target="A2",
        new_deadline=A2_DUE + timedelta(hours=10),
        reason="node outage",
        approved_by="Prof. Sahai",
        approved_at=NOW,
        student="ana",
    )
    shown = applied_deadline(A2_DUE, slack_day_applied=True, exception=exception)
    assert shown == A2_DUE + timedelta(hours=24)
    verdict = judge_submission(
        A2_DUE + timedelta(hours=20), A2_DUE, slack_already_applied=True, exception=exception
    )
    assert verdict.verdict is Verdict.ACCEPTED_WITH_SLACK_DAY
    assert verdict.applied_deadline == shown
    assert (
        applied_deadline(A2_DUE, slack_day_applied=False, exception=exception)
        == exception.new_deadline
    )


def test_an_exception_is_a_record_with_reason_and_approving_staff():
    with pytest.raises(UserError) as missing_reason:
        ApprovedException(
            target="A2",
            new_deadline=A2_DUE,
            reason=" ",
            approved_by="PZ",
            approved_at=NOW,
            student="ana",
        )
    assert missing_reason.value.field == "reason"
    with pytest.raises(UserError) as both:
        ApprovedException(
            target="A2",
            new_deadline=A2_DUE,
            reason="r",
            approved_by="PZ",
            approved_at=NOW,
            student="ana",
            group="g1",
        )
    assert both.value.field == "student"


def test_a_group_exception_applies_to_all_its_members():
    exception = ApprovedException(
        target="proposal",
        new_deadline=NOW,
        reason="node outage",
        approved_by="Venkat",
        approved_at=NOW,
        group="g1",
    )
    for member in GROUP:
        assert exception_for(member, "g1", "proposal", [exception]) is exception
    assert exception_for("eve", "g2", "proposal", [exception]) is None
    assert exception_for("ana", "g1", "hypothesis", [exception]) is None


def test_an_exception_never_lowers_a_score_already_earned():
    assert score_after_exception(earned=88.0, regraded=70.0) == 88.0
    assert score_after_exception(earned=60.0, regraded=75.0) == 75.0
    assert score_after_exception(earned=None, regraded=75.0) == 75.0


def test_only_staff_reverse_a_slack_day():
    entry = spend([], "A3")[0]
    with pytest.raises(Forbidden):
        reverse_slack_day(entry, by="ana", is_staff=False, at=NOW)
    reversed_entry = reverse_slack_day(
        entry, by="Paul Zhou", is_staff=True, at=NOW, reason="node outage"
    )
    assert not reversed_entry.live and reversed_entry.reversed_by == "Paul Zhou"
    assert slack_days_left("ana", [reversed_entry]) == 3
    with pytest.raises(Conflict, match="already reversed"):
        reverse_slack_day(reversed_entry, by="Paul Zhou", is_staff=True, at=NOW)


def test_slack_day_note_reads_like_the_syllabus():
    ledger = spend([], "A1")
    ledger = [*ledger, *spend_slack_day(GROUP, "A2", ledger, NOW + timedelta(days=1), "ana")]
    assert slack_day_note("ana", "A2", ledger) == "slack day 2 of 3 used on A2"
    assert slack_day_note("ana", "A5", ledger) == "no slack day used on A5"


def test_ledger_entries_are_never_a_group_counter():
    entry = SlackDayUse("ana", "A1", "g1", NOW, "ana")
    assert slack_days_left("ana", [entry]) == 2
    assert slack_days_left("ben", [entry]) == 3
