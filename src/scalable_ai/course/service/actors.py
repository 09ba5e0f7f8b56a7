"""Who is asking: the one gate every permission check goes through.

Every service function takes an :class:`Actor`. Staff may do anything; a student may read
their own record and their group's data and act for themselves and their group; nobody
else may do anything. The syllabus's roles: "student", "group member", "staff".
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from scalable_ai.course.service.course import row_by_id
from scalable_ai.course.service.memo import remembered
from scalable_ai.course.tables import Group, GroupMembership, Person
from scalable_ai.errors import Forbidden


@dataclass(frozen=True)
class Actor:
    """A signed-in person (``person_id``) with their ``role``; the local staff CLI has no
    person (``person_id=None``) and says who it is in ``label``."""

    person_id: int | None
    role: str
    label: str = ""

    @property
    def is_staff(self) -> bool:
        return self.role == "staff"

    @classmethod
    def of(cls, person: Person) -> Actor:
        return cls(person_id=person.id, role=person.role, label=person.email)

    @classmethod
    def local_staff(cls, label: str = "sai course (local)") -> Actor:
        """The staff tool on the database host (``sai course ...``), like Django's manage.py."""
        return cls(person_id=None, role="staff", label=label)


def require_staff(actor: Actor, what: str) -> None:
    """Refuse unless staff: ``what`` says what was attempted, for the message."""
    if not actor.is_staff:
        raise Forbidden(f"only staff may {what}")


def require_self_or_staff(actor: Actor, person_id: int, what: str) -> None:
    """Staff, or the person themself."""
    if not actor.is_staff and actor.person_id != person_id:
        raise Forbidden(f"you may only {what} for yourself")


_CURRENT_GROUP = (
    select(GroupMembership.group_id, Group.name)
    .join(Group, Group.id == GroupMembership.group_id)
    .where(GroupMembership.person_id == bindparam("person_id"), GroupMembership.left_at.is_(None))
)


def current_group(session: Session, person_id: int) -> tuple[int, str] | None:
    """The id and name of the group the person is in now (open membership), if any.

    A page asks several times (its group, its submissions, its deadlines, the peer part of
    the grade); the answer is kept for the rest of the transaction while nothing is written
    (``service.memo``: any flush, write statement, locking read or end of a transaction or
    savepoint forgets it, and with changes pending the query runs and autoflushes them)."""

    def read() -> tuple[int, str] | None:
        row = session.execute(_CURRENT_GROUP, {"person_id": person_id}).first()
        return None if row is None else (row[0], row[1])

    return remembered(session, ("current group", person_id), read)


def current_group_id(session: Session, person_id: int) -> int | None:
    """The id of the group the person is in now, if any (:func:`current_group`)."""
    found = current_group(session, person_id)
    return None if found is None else found[0]


def require_member_or_staff(session: Session, actor: Actor, group_id: int, what: str) -> None:
    """Staff, or a current member of the group ("a student sees ... their group's data")."""
    if actor.is_staff:
        return
    if actor.person_id is None or current_group_id(session, actor.person_id) != group_id:
        raise Forbidden(f"only members of this group and staff may {what}")


def get_person(session: Session, person_id: int, *, field: str = "person") -> Person:
    return row_by_id(session, Person, person_id, what="person", field=field)


def get_group(session: Session, group_id: int, *, field: str = "group") -> Group:
    return row_by_id(session, Group, group_id, what="group", field=field)


def acting_person(session: Session, actor: Actor) -> Person:
    """The actor's own row; the local staff tool has none."""
    if actor.person_id is None:
        raise Forbidden("this needs a signed-in person, not the local staff tool")
    return get_person(session, actor.person_id, field="actor")
