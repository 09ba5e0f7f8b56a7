"""Submissions: a group hands in an assignment, or a project milestone, with its integrity
statement; the deadline that applied is stored with it.

The verdict is :func:`scalable_ai.course.policy.late.judge_submission`: on time; within 24
hours late only when the submitter confirms spending a slack day (spent here, in the same
transaction as the submission) or one is already applied; later only under an approved
exception; anything else is refused naming the rule, and nothing is stored.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, func, select
from sqlalchemy.orm import Session, lazyload

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock, in_words
from scalable_ai.course.db import take_write_lock
from scalable_ai.course.links import check_link, is_upload_link
from scalable_ai.course.policy import late as rules
from scalable_ai.course.policy.integrity import integrity_statement
from scalable_ai.course.policy.milestones import MilestoneKind
from scalable_ai.course.policy.schedule import released_at
from scalable_ai.course.policy.settings import CourseSettings
from scalable_ai.course.service.actors import (
    Actor,
    acting_person,
    current_group,
    current_group_id,
    get_person,
    require_member_or_staff,
    require_self_or_staff,
)
from scalable_ai.course.service.course import (
    all_assignments,
    assignment_by_key,
    due_at,
    milestone_by_key,
    milestone_due_at,
    settings_of,
)
from scalable_ai.course.service.groups import lock_group
from scalable_ai.course.service.slack import (
    ledger,
    lock_people,
    policy_exceptions,
    spend_for_group,
)
from scalable_ai.course.tables import Assignment, Group, GroupMembership, Person, Submission
from scalable_ai.errors import Conflict, NotFound, UserError

MILESTONE_SLACK_REFUSAL = "slack days apply to assignments only"


def submit(
    session: Session,
    actor: Actor,
    *,
    assignment: str | None = None,
    milestone: str | None = None,
    integrity: Mapping[str, Any] | None,
    confirm_slack_day: bool = False,
    link: str | None = None,
    upload: str | None = None,
    clock: Clock,
) -> Submission:
    """Hand in for your group, now. Late within 24 hours needs ``confirm_slack_day``.

    ``link`` is an http(s) link (``course.links``: a ``javascript:`` link would run in the
    browser of the staff member who opens it); ``upload`` is the ``/uploads/...`` path of a
    file the web page keeps for this hand-in, and only the platform itself passes one."""
    if (assignment is None) == (milestone is None):
        raise UserError("name either an assignment or a milestone", field="assignment")
    if link:
        link = check_link(link)
    if upload is not None:
        if not is_upload_link(upload):
            raise UserError("not a stored upload", field="file")
        link = upload
    me = acting_person(session, actor)
    statement = integrity_statement(integrity)
    group_id = current_group_id(session, me.id)
    if group_id is None:
        raise UserError(
            "assignments and project milestones are group work: join a group before submitting",
            field="group",
        )
    settings = settings_of(session)
    now = clock.now()
    target_a = assignment_by_key(session, assignment) if assignment else None
    target_m = milestone_by_key(session, milestone) if milestone else None
    if target_m is not None and target_m.kind != MilestoneKind.DEADLINE.value:
        raise UserError(f"{target_m.title} is not something groups submit", field="milestone")
    key = target_a.key if target_a else target_m.key  # type: ignore[union-attr]
    due = due_at(target_a, settings) if target_a else milestone_due_at(target_m, settings)  # type: ignore[arg-type]
    if target_a is not None and now < released_at(target_a.released_on, settings):
        raise UserError(
            f"{target_a.key} is released on {in_words(target_a.released_on)}", field="assignment"
        )
    if now > due:  # late: may spend a slack day, so the group's ledger is written
        group = lock_group(session, group_id)
        members = lock_people(session, [p.id for p in group.members])
    else:
        group, members = share_group(session, group_id)
    verdict = judge_hand_in(
        session,
        me,
        group,
        members,
        key,
        due,
        now,
        is_assignment=target_a is not None,
        confirm_slack_day=confirm_slack_day,
        settings=settings,
    )
    if verdict.verdict is rules.Verdict.NEEDS_SLACK_DAY:
        raise Conflict(verdict.message, field="confirm_slack_day")
    if not verdict.accepted:
        raise Conflict(
            f"{key}: {verdict.message} (deadline {verdict.applied_deadline.isoformat()})",
            field="submitted_at",
        )
    row = Submission(
        assignment_id=target_a.id if target_a else None,
        milestone_id=target_m.id if target_m else None,
        group_id=group.id,
        person_id=me.id,
        submitted_at=now,
        deadline_applied=verdict.applied_deadline,
        deadline_reason=verdict.message,
        slack_day_used=verdict.spends_slack_day
        or verdict.verdict is rules.Verdict.ACCEPTED_WITH_SLACK_DAY,
        integrity=dataclasses.asdict(statement),
        link=(link or None),
        source="platform",
    )
    session.add(row)
    session.flush()
    if verdict.spends_slack_day and target_a is not None:
        spend_for_group(session, actor, group, target_a, clock=clock, submission_id=row.id)
    audit.record(session, actor, "submission.add", row, before=None, at=now)
    # A kit assignment handed in as a file is graded by the autograder's worker, later.
    from scalable_ai.course.service.grading_jobs import queue_grading

    queue_grading(session, row, clock=clock)
    return row


def share_group(session: Session, group_id: int) -> tuple[Group, list[Person]]:
    """The group and its members, locked against change (``FOR SHARE``) but not against
    each other's hand-ins, for an on-time hand-in: it writes only its own submission row and
    spends no slack day, so five members handing in together need not queue one behind
    another (they did, ~0.2 s at the p99 with 50 students, ``bench/web.py --trace``). A
    membership change (``lock_group``'s ``FOR UPDATE``) still waits for them, and they for
    it, so the group a hand-in is stored under is the group the submitter is in when it
    commits. On SQLite the database's write lock serializes writers anyway."""
    take_write_lock(session)
    group = session.scalar(_SHARE_GROUP, {"group_id": group_id})
    if group is None:
        raise NotFound(f"no group with id {group_id}", field="group")
    members = list(session.scalars(_SHARE_MEMBERS, {"group_id": group_id}))
    return group, members


# Built once: every on-time hand-in takes these locks. The members are read with their
# rows' lock in one statement, after the group's (which a membership change must take
# exclusively), instead of loading the memberships and then the people.
_SHARE_GROUP = (
    select(Group)
    .where(Group.id == bindparam("group_id"))
    .options(lazyload(Group.memberships))
    .with_for_update(read=True, of=Group)
    .execution_options(populate_existing=True)
)
_SHARE_MEMBERS = (
    select(Person)
    .join(GroupMembership, GroupMembership.person_id == Person.id)
    .where(GroupMembership.group_id == bindparam("group_id"), GroupMembership.left_at.is_(None))
    .order_by(Person.id)
    .options(lazyload(Person.ssh_keys))
    .with_for_update(read=True, of=Person)
    .execution_options(populate_existing=True)
)


def judge_hand_in(
    session: Session,
    person: Person,
    group: Group | None,
    members: Sequence[Person],
    key: str,
    due: datetime,
    submitted_at: datetime,
    *,
    is_assignment: bool,
    confirm_slack_day: bool,
    settings: CourseSettings,
) -> rules.SubmissionVerdict:
    """The late policy's verdict on ``person`` handing in ``key`` for their group (``members``
    locked by the caller), read from the ledger and the approved exceptions: whether a slack
    day can be spent (assignments only), whether one is already applied, which exception
    covers them. Submitting on the platform and importing Gradescope's lateness both ask
    here, so the two never judge differently."""
    group_name = group.name if group is not None else None
    book = ledger(
        session,
        person_ids=[p.id for p in members],
        group_id=group.id if group is not None else None,
    )
    return rules.judge_submission(
        submitted_at,
        due,
        confirm_slack_day=confirm_slack_day,
        slack_refusal=(
            rules.slack_day_refusal(
                [p.email for p in members], key, book, settings, group=group_name
            )
            if is_assignment
            else MILESTONE_SLACK_REFUSAL
        ),
        slack_already_applied=is_assignment and rules.slack_days_on(person.email, key, book) > 0,
        exception=rules.exception_for(
            person.email,
            group_name,
            key,
            policy_exceptions(
                session, person_id=person.id, group_id=group.id if group is not None else None
            ),
        ),
        settings=settings,
    )


_NEWEST_FIRST = (Submission.submitted_at.desc(), Submission.id.desc())


# A student's assignment page, on every load: the newest of their group's hand-ins (or
# their own, without a group), with statements built once.
def _newest_hand_ins(owner: ColumnElement[bool]) -> Select[Submission]:
    return (
        select(Submission)
        .where(owner, Submission.assignment_id == bindparam("assignment_id"))
        .order_by(*_NEWEST_FIRST)
        .limit(bindparam("newest"))
    )


_GROUP_NEWEST_HAND_INS = _newest_hand_ins(Submission.group_id == bindparam("owner"))
_OWN_NEWEST_HAND_INS = _newest_hand_ins(Submission.person_id == bindparam("owner"))


def list_submissions(
    session: Session,
    actor: Actor,
    *,
    group_id: int | None = None,
    assignment: str | None = None,
    newest: int | None = None,
) -> Sequence[Submission]:
    """Staff see every submission; a student only their group's. Oldest first; with
    ``newest``, only the newest that many (an assignment page shows the last few, and a
    group that hands in often must not make every view of it slower)."""
    if newest is not None and newest < 0:
        raise UserError("newest must be 0 or more", field="newest")
    mine = None
    if not actor.is_staff:
        mine = current_group_id(session, actor.person_id) if actor.person_id else None
        if group_id is not None and group_id != mine:
            require_member_or_staff(session, actor, group_id, "see this group's submissions")
        if assignment is not None and newest is not None:
            found = session.scalars(
                _GROUP_NEWEST_HAND_INS if mine else _OWN_NEWEST_HAND_INS,
                {
                    "owner": mine or actor.person_id,
                    "assignment_id": assignment_by_key(session, assignment).id,
                    "newest": newest,
                },
            ).all()
            return found[::-1]
    query = select(Submission).order_by(*_NEWEST_FIRST)
    if not actor.is_staff:
        query = query.where(
            Submission.group_id == mine if mine else Submission.person_id == actor.person_id
        )
    elif group_id is not None:
        query = query.where(Submission.group_id == group_id)
    if assignment is not None:
        query = query.where(Submission.assignment_id == assignment_by_key(session, assignment).id)
    if newest is not None:
        query = query.limit(newest)
    return session.scalars(query).all()[::-1]


@dataclass(frozen=True)
class AssignmentStatus:
    """Where a student stands on one assignment: the deadline that applies to them now (an
    exception's, or the due time plus 24 hours once a slack day is applied), and their
    group's latest submission."""

    assignment: Assignment
    due: datetime
    deadline: datetime
    slack_day_applied: bool
    exception_reason: str | None
    submission: Submission | None


def assignment_statuses(session: Session, actor: Actor, person_id: int) -> list[AssignmentStatus]:
    """Every assignment with the deadline that applies to the student (yourself, or staff)."""
    person = get_person(session, person_id)
    require_self_or_staff(actor, person_id, "see assignment deadlines")
    settings = settings_of(session)
    group = current_group(session, person.id)
    group_id, group_name = group if group is not None else (None, None)
    book = ledger(session, person_ids=[person.id])
    exceptions = policy_exceptions(session, person_id=person.id, group_id=group_id)
    latest_of = latest_submissions(session, group_id=group_id, person_id=person.id)
    result = []
    for row in all_assignments(session):
        due = due_at(row, settings)
        applied = rules.slack_days_on(person.email, row.key, book) > 0
        exception = rules.exception_for(person.email, group_name, row.key, exceptions)
        deadline = rules.applied_deadline(
            due, slack_day_applied=applied, exception=exception, settings=settings
        )
        result.append(
            AssignmentStatus(
                row,
                due,
                deadline,
                applied,
                exception.reason if exception else None,
                latest_of.get(row.id),
            )
        )
    return result


def _latest_statement(owner: ColumnElement[bool]) -> Select[Submission]:
    """The newest hand-in of each assignment among those ``owner`` selects (latest
    ``submitted_at``, then highest id)."""
    newest = (
        func.row_number()
        .over(
            partition_by=Submission.assignment_id,
            order_by=(Submission.submitted_at.desc(), Submission.id.desc()),
        )
        .label("newest")
    )
    ranked = (
        select(Submission.id, newest).where(Submission.assignment_id.is_not(None), owner).subquery()
    )
    return select(Submission).join(ranked, ranked.c.id == Submission.id).where(ranked.c.newest == 1)


# Built once: the dashboard and every assignment page read them.
_GROUP_LATEST = _latest_statement(Submission.group_id == bindparam("owner"))
_PERSON_LATEST = _latest_statement(Submission.person_id == bindparam("owner"))


def latest_submissions(
    session: Session, *, group_id: int | None, person_id: int
) -> dict[int, Submission]:
    """The latest hand-in of each assignment (by assignment id) by the group, or by the
    student when they have no group: one query for every assignment, keeping the newest
    (latest ``submitted_at``, then highest id) per assignment."""
    if group_id is not None:
        rows = session.scalars(_GROUP_LATEST, {"owner": group_id})
    else:
        rows = session.scalars(_PERSON_LATEST, {"owner": person_id})
    return {row.assignment_id: row for row in rows if row.assignment_id is not None}
