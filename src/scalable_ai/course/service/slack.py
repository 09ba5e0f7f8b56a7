"""Slack days and approved exceptions: the ledger, its balances, spending and reversing.

Syllabus, "Late policy": "You have 3 total slack days across the semester for assignments.
At most one slack day may be applied to any single assignment. Slack days extend the
deadline by 24 hours. No other late work is accepted without an approved exception." The
rules are :mod:`scalable_ai.course.policy.late`; here the ledger is read from and written to
the database.

Concurrency: spending locks the group row and then every member's ``people`` row
(``SELECT ... FOR UPDATE``, in id order, so two requests cannot deadlock) before reading the
ledger, so parallel requests on PostgreSQL are serialized and cannot overspend; the unique
index on open (student, assignment) entries is a second guard.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, bindparam, or_, select
from sqlalchemy.orm import Session, aliased, lazyload

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock, in_words
from scalable_ai.course.db import take_write_lock
from scalable_ai.course.policy import late as rules
from scalable_ai.course.service.actors import (
    Actor,
    current_group_id,
    get_group,
    get_person,
    require_member_or_staff,
    require_self_or_staff,
    require_staff,
)
from scalable_ai.course.service.course import (
    assignment_by_key,
    due_at,
    milestone_by_key,
    row_by_id,
    settings_of,
)
from scalable_ai.course.service.groups import lock_group
from scalable_ai.course.service.memo import remembered
from scalable_ai.course.tables import (
    Assignment,
    DeadlineException,
    Group,
    Milestone,
    Person,
    SlackDayUse,
)
from scalable_ai.errors import Conflict, UserError


def lock_people(session: Session, person_ids: Iterable[int]) -> list[Person]:
    """Lock these people rows (id order) for the rest of the transaction (on SQLite: the
    database's write lock). Their SSH keys are left to load if asked for: the late policy
    reads only emails, and the eager key query ran on every hand-in."""
    take_write_lock(session)
    return list(
        session.scalars(
            select(Person)
            .where(Person.id.in_(sorted(set(person_ids))))
            .order_by(Person.id)
            .options(lazyload(Person.ssh_keys))
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    )


def ledger(
    session: Session, *, person_ids: Iterable[int] = (), group_id: int | None = None
) -> list[rules.SlackDayUse]:
    """The policy's ledger for these students (whichever group charged them) and, for the
    per-group pool, every entry charged through ``group_id``."""
    ids = list(person_ids)
    if len(ids) == 1 and group_id is None:
        return [entry for _, entry in person_ledger_rows(session, ids[0])]
    if group_id is None:
        return [entry for _, entry in _entries(session, _PEOPLE_LEDGER, {"ids": ids})]
    found = _entries(session, _PEOPLE_OR_GROUP_LEDGER, {"ids": ids, "group_id": group_id})
    return [entry for _, entry in found]


def person_ledger_rows(
    session: Session, person_id: int
) -> list[tuple[SlackDayUse, rules.SlackDayUse]]:
    """One student's ledger rows, read once per transaction while nothing is written (a
    dashboard needs them for the deadlines and for the balance: ``service.memo``)."""
    return remembered(
        session,
        ("slack ledger", person_id),
        lambda: _entries(session, _PERSON_LEDGER, {"person_id": person_id}),
    )


def _ledger_statement(*where: ColumnElement[bool]) -> Select[Any]:
    return (
        select(SlackDayUse, Person.email, Group.name, Assignment.key)
        .join(Person, Person.id == SlackDayUse.person_id)
        .join(Assignment, Assignment.id == SlackDayUse.assignment_id)
        .outerjoin(Group, Group.id == SlackDayUse.group_id)
        .where(*where)
        .order_by(SlackDayUse.id)
    )


# Built once: every page a student opens reads their ledger.
_PERSON_LEDGER = _ledger_statement(SlackDayUse.person_id == bindparam("person_id"))
_PEOPLE_LEDGER = _ledger_statement(SlackDayUse.person_id.in_(bindparam("ids", expanding=True)))
# A hand-in reads its group's: the members' entries and the group pool's.
_PEOPLE_OR_GROUP_LEDGER = _ledger_statement(
    or_(
        SlackDayUse.person_id.in_(bindparam("ids", expanding=True)),
        SlackDayUse.group_id == bindparam("group_id"),
    )
)


def ledger_rows(
    session: Session, *where: ColumnElement[bool]
) -> list[tuple[SlackDayUse, rules.SlackDayUse]]:
    """The ledger rows matching ``where`` (id order), each with its policy entry, in one
    query that reads only the names an entry needs (the student's email, the group's name,
    the assignment's key) rather than every person and group with their relationships."""
    return _entries(session, _ledger_statement(*where), {})


def _entries(
    session: Session, statement: Select[Any], params: dict[str, Any]
) -> list[tuple[SlackDayUse, rules.SlackDayUse]]:
    return [
        (
            row,
            policy_entry(
                row,
                {row.person_id: email},
                {row.group_id: group} if row.group_id is not None else {},
                {row.assignment_id: key},
            ),
        )
        for row, email, group, key in session.execute(statement, params)
    ]


def policy_entry(
    row: SlackDayUse, people: dict[int, str], groups: dict[int, str], keys: dict[int, str]
) -> rules.SlackDayUse:
    return rules.SlackDayUse(
        student=people[row.person_id],
        assignment=keys[row.assignment_id],
        group=groups.get(row.group_id) if row.group_id is not None else None,
        applied_at=row.spent_at,
        applied_by=str(row.spent_by_id or "staff"),
        reversed_at=row.revoked_at,
        reversed_by=str(row.revoked_by_id) if row.revoked_at else None,
        reversal_reason=row.reason if row.revoked_at else "",
    )


def spend_for_group(
    session: Session,
    actor: Actor,
    group: Group | None,
    assignment: Assignment,
    *,
    clock: Clock,
    submission_id: int | None = None,
    members: Sequence[Person] = (),
) -> list[SlackDayUse]:
    """Charge one slack day on ``assignment`` to every member of ``group`` (locked by the
    caller's :func:`lock_group`), or to ``members`` when the student has no group; refuses
    naming the rule, writing nothing."""
    members = lock_people(session, [p.id for p in (group.members if group else members)])
    settings = settings_of(session)
    entries = rules.spend_slack_day(
        [p.email for p in members],
        assignment.key,
        ledger(session, person_ids=[p.id for p in members], group_id=group.id if group else None),
        clock.now(),
        actor.label,
        settings,
        group=group.name if group else None,
    )
    rows = []
    by_email = {p.email: p for p in members}
    for entry in entries:
        row = SlackDayUse(
            person_id=by_email[entry.student].id,
            assignment_id=assignment.id,
            group_id=group.id if group else None,
            submission_id=submission_id,
            spent_at=clock.now(),
            spent_by_id=actor.person_id,
        )
        session.add(row)
        rows.append(row)
    session.flush()
    for row in rows:
        audit.record(session, actor, "slack_day.spend", row, before=None, at=clock.now())
    return rows


def spend_slack_day(
    session: Session, actor: Actor, *, group_id: int, assignment: str, clock: Clock
) -> list[SlackDayUse]:
    """A group (a member, or staff for it) applies a slack day to an assignment: every
    member is charged one; refused if any member has none left or one is already applied."""
    get_group(session, group_id)
    require_member_or_staff(session, actor, group_id, "spend this group's slack days")
    target = assignment_by_key(session, assignment)
    group = lock_group(session, group_id)
    return spend_for_group(session, actor, group, target, clock=clock)


def _same_spending(session: Session, row: SlackDayUse) -> list[SlackDayUse]:
    """The entries charged by the same spending: every member's, for a group's slack day."""
    return list(
        session.scalars(
            select(SlackDayUse).where(
                SlackDayUse.assignment_id == row.assignment_id,
                SlackDayUse.spent_at == row.spent_at,
                SlackDayUse.revoked_at.is_(None),
                SlackDayUse.group_id == row.group_id
                if row.group_id is not None
                else SlackDayUse.id == row.id,
            )
        ).all()
    )


def spending_of(session: Session, actor: Actor, use_id: int) -> list[SlackDayUse]:
    """What reversing ``use_id`` would reverse (staff): the page asks for confirmation when
    it is more than the one row clicked (a group's slack day is every member's)."""
    require_staff(actor, "see what a reversal would reverse")
    row = row_by_id(session, SlackDayUse, use_id, what="slack-day entry", field="slack_day")
    return _same_spending(session, row)


def reverse_slack_day(
    session: Session, actor: Actor, use_id: int, *, reason: str, clock: Clock
) -> list[SlackDayUse]:
    """Staff reverse a slack day: the entry, and the same spending's entries for the other
    members, stay in the ledger marked reversed ("reversible only by staff")."""
    row = row_by_id(session, SlackDayUse, use_id, what="slack-day entry", field="slack_day")
    person, assignment = (
        session.get(Person, row.person_id),
        session.get(Assignment, row.assignment_id),
    )
    entry = policy_entry(
        row,
        {row.person_id: person.email if person else ""},
        {},
        {row.assignment_id: assignment.key if assignment else ""},
    )
    rules.reverse_slack_day(entry, actor.label, actor.is_staff, clock.now(), reason)
    same = _same_spending(session, row)
    for use in same:
        before = audit.snapshot(use)
        use.revoked_at = clock.now()
        use.revoked_by_id = actor.person_id
        use.reason = reason
        audit.record(session, actor, "slack_day.reverse", use, before=before, at=clock.now())
    return list(same)


@dataclass(frozen=True)
class SlackBalance:
    """One student's slack days: used, left, and a note per assignment ("slack day 2 of 3
    used on A2")."""

    person_id: int
    total: int
    used: int
    left: int
    notes: tuple[str, ...]
    entries: tuple[SlackDayUse, ...]


def slack_balance(session: Session, actor: Actor, person_id: int) -> SlackBalance:
    """A student's balance, computed from the ledger (yourself, or staff)."""
    person = get_person(session, person_id)
    require_self_or_staff(actor, person_id, "see slack days")
    settings = settings_of(session)
    pairs = person_ledger_rows(session, person_id)
    rows = [row for row, _ in pairs]
    book = [entry for _, entry in pairs]
    spent_on = list(
        dict.fromkeys(e.assignment for e in sorted(book, key=lambda e: e.applied_at) if e.live)
    )
    return SlackBalance(
        person_id=person.id,
        total=settings.slack_days_total,
        used=rules.slack_days_used(person.email, book),
        left=rules.slack_days_left(person.email, book, settings),
        notes=tuple(rules.slack_day_note(person.email, key, book, settings) for key in spent_on),
        entries=tuple(rows),
    )


def slack_ledger(session: Session, actor: Actor) -> Sequence[SlackDayUse]:
    """Every ledger entry (staff)."""
    require_staff(actor, "see the slack-day ledger")
    return session.scalars(select(SlackDayUse).order_by(SlackDayUse.id)).all()


# --- approved exceptions ------------------------------------------------------------------


def _exceptions_statement(covered: ColumnElement[bool] | None) -> Select[Any]:
    """The approved, unrevoked exceptions (``covered`` narrows them) with the names an
    exception needs: the student's email, the group's name, the assignment's or milestone's
    key, the approver's name."""
    approver = aliased(Person)
    query = (
        select(
            DeadlineException,
            Person.email,
            Group.name,
            Assignment.key,
            Milestone.key,
            approver.name,
        )
        .outerjoin(Person, Person.id == DeadlineException.person_id)
        .outerjoin(approver, approver.id == DeadlineException.approved_by_id)
        .outerjoin(Group, Group.id == DeadlineException.group_id)
        .outerjoin(Assignment, Assignment.id == DeadlineException.assignment_id)
        .outerjoin(Milestone, Milestone.id == DeadlineException.milestone_id)
        .where(DeadlineException.revoked_at.is_(None))
        .order_by(DeadlineException.id)
    )
    return query if covered is None else query.where(covered)


# Built once (docs/course-platform.md, "What keeps a page cheap"): every page a student
# opens reads their exceptions, and building this six-table statement took most of the
# read's time.
_ALL_EXCEPTIONS = _exceptions_statement(None)
_PERSON_EXCEPTIONS = _exceptions_statement(DeadlineException.person_id == bindparam("person_id"))
_PERSON_OR_GROUP_EXCEPTIONS = _exceptions_statement(
    or_(
        DeadlineException.person_id == bindparam("person_id"),
        DeadlineException.group_id == bindparam("group_id"),
    )
)


def policy_exceptions(
    session: Session, *, person_id: int | None = None, group_id: int | None = None
) -> list[rules.ApprovedException]:
    """The approved (unrevoked) exceptions as the policy reads them. Naming ``person_id``
    (and ``group_id``, their group) keeps only those that can cover that student: their own
    and their group's ("a group's exception applies to all its members"); without it, all.
    One query reads only the names an exception needs (the student's email, the group's
    name, the assignment's or milestone's key, the approver's name)."""
    if person_id is None:
        rows = session.execute(_ALL_EXCEPTIONS)
    elif group_id is None:
        rows = session.execute(_PERSON_EXCEPTIONS, {"person_id": person_id})
    else:
        rows = session.execute(
            _PERSON_OR_GROUP_EXCEPTIONS, {"person_id": person_id, "group_id": group_id}
        )
    result = []
    for row, email, group, assignment_key, milestone_key, approver_name in rows:
        result.append(
            rules.ApprovedException(
                target=assignment_key if row.assignment_id is not None else milestone_key,
                new_deadline=row.new_deadline,
                reason=row.reason,
                # the approver's name ("approved by 3" was what an import printed, issue 13)
                approved_by=approver_name or "staff",
                approved_at=row.approved_at,
                student=email if row.person_id else None,
                group=group if row.group_id else None,
                id=str(row.id),
            )
        )
    return result


def grant_exception(
    session: Session,
    actor: Actor,
    *,
    person_id: int | None = None,
    group_id: int | None = None,
    assignment: str | None = None,
    milestone: str | None = None,
    new_deadline: datetime,
    reason: str,
    clock: Clock,
    shorten: bool = False,
) -> DeadlineException:
    """Staff approve an exception: a new deadline for a student or a whole group, for one
    assignment or milestone, with the reason; a group's exception covers every member.

    An exception is meant to give more time: one whose deadline is earlier than the regular
    one is refused unless ``shorten`` confirms it (issue 13: A4 → Mar 1 was approved without
    a word)."""
    require_staff(actor, "approve exceptions")
    if (assignment is None) == (milestone is None):
        raise UserError("name either an assignment or a milestone", field="assignment")
    person = get_person(session, person_id) if person_id is not None else None
    group = get_group(session, group_id) if group_id is not None else None
    target_a = assignment_by_key(session, assignment) if assignment else None
    target_m = milestone_by_key(session, milestone) if milestone else None
    rules.ApprovedException(
        target=(target_a.key if target_a else target_m.key if target_m else ""),
        new_deadline=new_deadline,
        reason=reason,
        approved_by=actor.label or "staff",
        approved_at=clock.now(),
        student=person.email if person else None,
        group=group.name if group else None,
    )
    settings = settings_of(session)
    regular = due_at(target_a, settings) if target_a else rules.deadline_at(target_m.day, settings)
    if new_deadline < regular and not shorten:
        what = target_a.key if target_a else target_m.title
        raise Conflict(
            f"this moves {what}'s deadline earlier, from {in_words(regular)} to "
            f"{in_words(new_deadline)} (Berkeley time); confirm that you mean to shorten it",
            field="shorten",
        )
    row = DeadlineException(
        person_id=person_id,
        group_id=group_id,
        assignment_id=target_a.id if target_a else None,
        milestone_id=target_m.id if target_m else None,
        new_deadline=new_deadline,
        reason=reason.strip(),
        approved_by_id=actor.person_id,
        approved_at=clock.now(),
    )
    session.add(row)
    audit.record(session, actor, "exception.grant", row, before=None, at=clock.now())
    _tell_exception(session, row, "approved", clock)
    return row


def _tell_exception(session: Session, row: DeadlineException, decided: str, clock: Clock) -> None:
    """The student, or every member of the group, hears that their exception was decided."""
    from scalable_ai.course.notify.events import members_of, notify

    if row.assignment_id is not None:
        what = session.get(Assignment, row.assignment_id).key  # type: ignore[union-attr]
    else:
        what = session.get(Milestone, row.milestone_id).title  # type: ignore[union-attr]
    people = [row.person_id] if row.person_id is not None else members_of(session, [row.group_id])
    notify(
        session,
        people,
        kind="exception",
        title=f"Exception {decided} for {what}: new deadline {in_words(row.new_deadline)}"
        if decided == "approved"
        else f"Exception for {what} revoked: the regular deadline applies",
        body=row.reason,
        link="/assignments",
        at=clock.now(),
    )


def revoke_exception(
    session: Session, actor: Actor, exception_id: int, *, clock: Clock
) -> DeadlineException:
    require_staff(actor, "revoke exceptions")
    row = row_by_id(session, DeadlineException, exception_id, what="exception", field="exception")
    if row.revoked_at is not None:
        raise Conflict("this exception was already revoked", field="exception")
    before = audit.snapshot(row)
    row.revoked_at = clock.now()
    audit.record(session, actor, "exception.revoke", row, before=before, at=clock.now())
    _tell_exception(session, row, "revoked", clock)
    return row


def list_exceptions(session: Session, actor: Actor) -> Sequence[DeadlineException]:
    """Staff see every exception; a student those covering them or their group."""
    query = select(DeadlineException).order_by(DeadlineException.id)
    if not actor.is_staff:
        gid = current_group_id(session, actor.person_id) if actor.person_id else None
        query = query.where(
            or_(
                DeadlineException.person_id == actor.person_id,
                DeadlineException.group_id == gid if gid else False,
            )
        )
    return session.scalars(query).all()
