"""Read-only panels the dashboard and staff pages share, each over one service call.

Each reads through the service layer with the visitor's Actor.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session, lazyload

from scalable_ai.course.tables import Group, GroupMembership, SignupSlot, SlotSignup

ANNOUNCEMENTS_SHOWN = 3


def current_announcements(db: Session, actor: Any, now: Any) -> list[Any]:
    """The newest staff announcements already posted by the course clock's "now", a few at
    most, newest first: the syllabus's Ed channel "announce[s]", and issue 5 wants each
    announcement "on every dashboard" (student and staff)."""
    from scalable_ai.course.community.service import forum

    return forum.announcement_cards(db, actor, now=now, shown=ANNOUNCEMENTS_SHOWN)


def my_scribe_lectures(db: Session, actor: Any, person_id: int) -> list[Any]:
    """The lectures this student scribes: their own rows of the posted schedule, each with
    its lecture (joined with the row), not the whole class's schedule filtered here."""
    from scalable_ai.course.service.activities import list_scribes
    from scalable_ai.course.service.actors import require_self_or_staff

    require_self_or_staff(actor, person_id, "see scribe lectures")
    return [(r.lecture, r) for r in list_scribes(db, actor, person_id=person_id)]


_GROUP_SLOTS = (
    select(SignupSlot)
    .join(SlotSignup, SlotSignup.slot_id == SignupSlot.id)
    .where(SlotSignup.group_id == bindparam("group_id"))
    .order_by(SignupSlot.starts_at)
)


# The dashboard's group card: the group with its node and the number of current members,
# in one statement built once (loading every membership with its person to count them was
# a fifth of the dashboard's time).
_GROUP_CARD = (
    select(
        Group,
        select(func.count())
        .where(GroupMembership.group_id == Group.id, GroupMembership.left_at.is_(None))
        .scalar_subquery(),
    )
    .where(Group.id == bindparam("group_id"))
    .options(lazyload(Group.memberships))
)


def my_group_card(db: Session, actor: Any) -> tuple[Group, int] | None:
    """The actor's current group and how many members it has now, if in one."""
    from scalable_ai.course.service.actors import current_group_id

    group_id = current_group_id(db, actor.person_id) if actor.person_id else None
    if group_id is None:
        return None
    row = db.execute(_GROUP_CARD, {"group_id": group_id}).one()
    return row[0], row[1]


def my_checkoffs(db: Session, actor: Any, group: Any) -> list[Any]:
    """The slots the student's group booked."""
    if group is None:
        return []
    from scalable_ai.course.service.actors import require_member_or_staff

    require_member_or_staff(db, actor, group.id, "see this group's sign-ups")
    return list(db.scalars(_GROUP_SLOTS, {"group_id": group.id}))


def my_standing(db: Session, actor: Any, person_id: int, *, clock: Any) -> tuple[Any, Any]:
    """The student's slack-day balance and running grade, reading the slack-day ledger once.

    ``grades.grade_of`` computes the balance itself (for its notes), so calling it next to
    ``slack_balance`` read the ledger twice — the costliest read on the dashboard. This is
    ``grade_of``'s own composition with the balance passed in; ``tests/web`` checks that
    both give the same report.
    """
    from scalable_ai.course.service.grades import student_running
    from scalable_ai.course.service.slack import slack_balance

    balance = slack_balance(db, actor, person_id)  # checks: yourself, or staff
    return balance, student_running(db, person_id, clock=clock, notes=balance.notes)
