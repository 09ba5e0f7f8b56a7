"""Deadlines, slack days and approved exceptions.

Syllabus, "Late policy (Assignments)": "You have 3 total slack days across the semester for
assignments. At most one slack day may be applied to any single assignment. Slack days
extend the deadline by 24 hours. No other late work is accepted without an approved
exception." The syllabus gives dates only; the time of day is a course setting (23:59
Berkeley by default).

Assignments are group work, so a group's slack day is charged to every member (one ledger
entry each) and a group may spend one only while every member has one left; the setting
``slack_pool=per_group`` makes the pool the group's instead. Balances are always computed
from the ledger, per student — never kept as a group counter — so they stay right when a
student changes group mid-semester. Only staff reverse a slack day; the entry stays in the
ledger, marked reversed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum

from scalable_ai.course.clock import in_words
from scalable_ai.course.policy.settings import CourseSettings, SlackPool
from scalable_ai.errors import Conflict, Forbidden, UserError


def deadline_at(day: date, settings: CourseSettings | None = None) -> datetime:
    """The instant a syllabus due date ends: ``day`` at the deadline time, Berkeley time."""
    settings = settings or CourseSettings()
    return datetime.combine(day, settings.deadline_time, tzinfo=settings.zone)


@dataclass(frozen=True)
class SlackDayUse:
    """One ledger entry: ``student`` spent a slack day on ``assignment`` (charged through
    ``group``). Reversal keeps the entry and records who reversed it and why."""

    student: str
    assignment: str
    group: str | None
    applied_at: datetime
    applied_by: str
    reversed_at: datetime | None = None
    reversed_by: str | None = None
    reversal_reason: str = ""

    @property
    def live(self) -> bool:
        return self.reversed_at is None


def slack_days_used(student: str, ledger: Iterable[SlackDayUse]) -> int:
    """Slack days ``student`` has spent, counted from the live ledger entries in their name
    (whichever group charged them)."""
    return sum(1 for e in ledger if e.live and e.student == student)


def slack_days_left(
    student: str, ledger: Iterable[SlackDayUse], settings: CourseSettings | None = None
) -> int:
    """Slack days ``student`` has left: the semester's total minus what the ledger shows
    they spent, whichever groups they were in when they spent them."""
    settings = settings or CourseSettings()
    return max(0, settings.slack_days_total - slack_days_used(student, ledger))


def group_slack_days_used(group: str, ledger: Iterable[SlackDayUse]) -> int:
    """With ``slack_pool=per_group``: slack days the group spent (one per spending, however
    many members it charged)."""
    return len({(e.assignment, e.applied_at) for e in ledger if e.live and e.group == group})


def group_slack_days_left(
    group: str, ledger: Iterable[SlackDayUse], settings: CourseSettings | None = None
) -> int:
    """With ``slack_pool=per_group``: the group's pool minus what it spent."""
    settings = settings or CourseSettings()
    return max(0, settings.slack_days_total - group_slack_days_used(group, ledger))


def slack_days_on(student: str, assignment: str, ledger: Iterable[SlackDayUse]) -> int:
    """Slack days applied to ``assignment`` in ``student``'s name."""
    return sum(1 for e in ledger if e.live and e.student == student and e.assignment == assignment)


def slack_day_refusal(
    members: Sequence[str],
    assignment: str,
    ledger: Sequence[SlackDayUse],
    settings: CourseSettings | None = None,
    group: str | None = None,
) -> str | None:
    """Why the group may not spend a slack day on ``assignment`` now, or None if it may."""
    settings = settings or CourseSettings()
    if not members:
        return "the group has no members"
    limit = settings.slack_days_per_assignment
    if any(slack_days_on(m, assignment, ledger) >= limit for m in members):
        return (
            f"a slack day is already applied to {assignment}: at most "
            f"{'one slack day' if limit == 1 else f'{limit} slack days'} per assignment"
        )
    if settings.slack_pool is SlackPool.PER_GROUP:
        if group is None:
            return "the per-group slack pool needs the group"
        if group_slack_days_left(group, ledger, settings) == 0:
            return f"group {group} has used all {settings.slack_days_total} slack days"
        return None
    out = [m for m in members if slack_days_left(m, ledger, settings) == 0]
    if out:
        return (
            ", ".join(out) + f" {'has' if len(out) == 1 else 'have'} used all "
            f"{settings.slack_days_total} slack days; a group spends one only while "
            "every member has one left"
        )
    return None


def spend_slack_day(
    members: Sequence[str],
    assignment: str,
    ledger: Sequence[SlackDayUse],
    at: datetime,
    by: str,
    settings: CourseSettings | None = None,
    group: str | None = None,
) -> tuple[SlackDayUse, ...]:
    """The ledger entries for a group's slack day on ``assignment`` (one per member), or
    :class:`Conflict` naming the rule (a fourth slack day, a second on one assignment)."""
    reason = slack_day_refusal(members, assignment, ledger, settings, group)
    if reason:
        raise Conflict(reason, field="slack_day")
    return tuple(
        SlackDayUse(student=m, assignment=assignment, group=group, applied_at=at, applied_by=by)
        for m in members
    )


def reverse_slack_day(
    entry: SlackDayUse, by: str, is_staff: bool, at: datetime, reason: str = ""
) -> SlackDayUse:
    """Staff undo a slack day (the entry stays, marked reversed); nobody else may."""
    if not is_staff:
        raise Forbidden("only staff can reverse a slack day", field="slack_day")
    if not entry.live:
        raise Conflict("this slack day was already reversed", field="slack_day")
    return dataclasses.replace(entry, reversed_at=at, reversed_by=by, reversal_reason=reason)


def slack_day_note(
    student: str,
    assignment: str,
    ledger: Sequence[SlackDayUse],
    settings: CourseSettings | None = None,
) -> str:
    """The student's explanation: "slack day 2 of 3 used on A2"."""
    settings = settings or CourseSettings()
    spent = sorted(
        (e for e in ledger if e.live and e.student == student), key=lambda e: e.applied_at
    )
    order = list(dict.fromkeys(e.assignment for e in spent))
    if assignment not in order:
        return f"no slack day used on {assignment}"
    return (
        f"slack day {order.index(assignment) + 1} of {settings.slack_days_total} "
        f"used on {assignment}"
    )


# --- approved exceptions ------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovedException:
    """ "No other late work is accepted without an approved exception": a first-class
    record. It covers one ``student`` or one ``group`` (and so each of its members), for one
    assignment or milestone (``target``: "A3", "proposal"), with a new deadline, the reason,
    the approving staff member and when they approved it."""

    target: str
    new_deadline: datetime
    reason: str
    approved_by: str
    approved_at: datetime
    student: str | None = None
    group: str | None = None
    id: str = ""

    def __post_init__(self) -> None:
        if (self.student is None) == (self.group is None):
            raise UserError("an exception covers either one student or one group", field="student")
        if not self.reason.strip():
            raise UserError("an exception records its reason", field="reason")
        if not self.approved_by.strip():
            raise UserError("an exception names the approving staff member", field="approved_by")
        if self.new_deadline.tzinfo is None:
            raise UserError("give the new deadline a time zone", field="new_deadline")

    def covers(self, student: str, group: str | None, target: str) -> bool:
        """A group's exception applies to all its members."""
        if self.target != target:
            return False
        return self.student == student or (self.group is not None and self.group == group)


def exception_for(
    student: str, group: str | None, target: str, exceptions: Iterable[ApprovedException]
) -> ApprovedException | None:
    """The covering exception with the latest deadline, if any."""
    covering = [e for e in exceptions if e.covers(student, group, target)]
    return max(covering, key=lambda e: e.new_deadline, default=None)


def score_after_exception(earned: float | None, regraded: float | None) -> float | None:
    """ "An exception never lowers a score already earned": keep the higher of the two."""
    if earned is None:
        return regraded
    if regraded is None:
        return earned
    return max(earned, regraded)


# --- the verdict on one submission --------------------------------------------------------


class Verdict(StrEnum):
    ON_TIME = "on_time"
    NEEDS_SLACK_DAY = "needs_slack_day"  # within 24 h late, not yet confirmed
    ACCEPTED_WITH_SLACK_DAY = "accepted_with_slack_day"
    ACCEPTED_BY_EXCEPTION = "accepted_by_exception"
    REJECTED = "rejected"


@dataclass(frozen=True)
class SubmissionVerdict:
    """The verdict, the deadline that applied, whether a slack day is spent, and why."""

    verdict: Verdict
    applied_deadline: datetime
    spends_slack_day: bool
    message: str

    @property
    def accepted(self) -> bool:
        return self.verdict in (
            Verdict.ON_TIME,
            Verdict.ACCEPTED_WITH_SLACK_DAY,
            Verdict.ACCEPTED_BY_EXCEPTION,
        )


def applied_deadline(
    due: datetime,
    *,
    slack_day_applied: bool,
    exception: ApprovedException | None,
    settings: CourseSettings | None = None,
) -> datetime:
    """The deadline that applies to a student: ``due``, extended by ``slack_day_hours`` once a
    slack day is applied ("Slack days extend the deadline by 24 hours"), or an approved
    exception's new deadline when that is later (an exception grants time, never takes it)."""
    settings = settings or CourseSettings()
    own = due + timedelta(hours=settings.slack_day_hours) if slack_day_applied else due
    if exception is not None and exception.new_deadline > own:
        return exception.new_deadline
    return own


def judge_submission(
    submitted_at: datetime,
    due: datetime,
    *,
    confirm_slack_day: bool = False,
    slack_refusal: str | None = None,
    slack_already_applied: bool = False,
    exception: ApprovedException | None = None,
    settings: CourseSettings | None = None,
) -> SubmissionVerdict:
    """Decide one submission. On time up to ``due``. With an approved exception later than
    the student's own deadline, its new deadline applies instead (no slack day on top).
    Within ``slack_day_hours`` after ``due``: accepted when a slack day is already applied to
    this assignment, or when the submitter confirms spending one and ``slack_refusal`` is
    None (the service spends it in the same transaction); otherwise it needs confirmation.
    Anything later is rejected. The deadline is the same one :func:`applied_deadline` shows
    the student."""
    settings = settings or CourseSettings()
    deadline = applied_deadline(
        due, slack_day_applied=slack_already_applied, exception=exception, settings=settings
    )
    if exception is not None and deadline == exception.new_deadline > due:
        if submitted_at <= exception.new_deadline:
            return SubmissionVerdict(
                Verdict.ACCEPTED_BY_EXCEPTION,
                exception.new_deadline,
                False,
                f"accepted under the exception approved by "
                f"{exception.approved_by}: {exception.reason}",
            )
        return SubmissionVerdict(
            Verdict.REJECTED,
            exception.new_deadline,
            False,
            f"after the exception's deadline {in_words(exception.new_deadline)}",
        )
    if submitted_at <= due:
        return SubmissionVerdict(Verdict.ON_TIME, due, False, "on time")
    extended = due + timedelta(hours=settings.slack_day_hours)
    if submitted_at > extended:
        return SubmissionVerdict(
            Verdict.REJECTED,
            extended if slack_already_applied else due,
            False,
            "more than 24 hours late: not accepted without an approved exception",
        )
    if slack_already_applied:
        return SubmissionVerdict(
            Verdict.ACCEPTED_WITH_SLACK_DAY, extended, False, "within the slack day already applied"
        )
    if slack_refusal:
        return SubmissionVerdict(
            Verdict.REJECTED, due, False, f"late and no slack day can be spent: {slack_refusal}"
        )
    if not confirm_slack_day:
        return SubmissionVerdict(
            Verdict.NEEDS_SLACK_DAY,
            due,
            False,
            "late: confirm spending a slack day (extends the deadline by 24 hours)",
        )
    return SubmissionVerdict(
        Verdict.ACCEPTED_WITH_SLACK_DAY,
        extended,
        True,
        "late: a slack day is spent, extending the deadline by 24 hours",
    )
