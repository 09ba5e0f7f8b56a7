"""The course itself: its settings, and lookups of assignments, milestones and lectures.

The rows come from ``sai course init`` (see :mod:`.setup`); every other use case reads the
course settings through :func:`settings_of`, so a rule never hides a number of its own.
"""

from __future__ import annotations

import functools
import json
from datetime import date, datetime
from typing import TypeVar

from sqlalchemy import Text, bindparam, cast, select
from sqlalchemy.orm import Session

from scalable_ai.course.clock import Clock
from scalable_ai.course.policy.late import deadline_at
from scalable_ai.course.policy.settings import CourseSettings, settings_from_dict
from scalable_ai.course.service.memo import remembered
from scalable_ai.course.tables import (
    Assignment,
    Base,
    CourseRecord,
    Lecture,
    Milestone,
    Node,
)
from scalable_ai.errors import NotFound

FORMATION_MILESTONE = "group_formation"
PEER_REVIEW_MILESTONE = "peer_review"


Row = TypeVar("Row", bound=Base)


def row_by_id(session: Session, table: type[Row], row_id: int, *, what: str, field: str) -> Row:
    """The row of ``table`` with this id, or ``NotFound`` naming what was asked for
    ("no reservation with id 7") and the field it came from."""
    row = session.get(table, row_id)
    if row is None:
        raise NotFound(f"no {what} with id {row_id}", field=field)
    return row


_FIRST_COURSE = select(CourseRecord).order_by(CourseRecord.id).limit(1)
# Built once: pages look these up on every load.
_ASSIGNMENT_BY_KEY = select(Assignment).where(Assignment.key == bindparam("key"))
_MILESTONE_BY_KEY = select(Milestone).where(Milestone.key == bindparam("key"))


def load_course(session: Session) -> CourseRecord:
    """The one course in this database (``NotFound`` until ``sai course init`` ran)."""
    course = session.scalar(_FIRST_COURSE)
    if course is None:
        raise NotFound("no course in this database yet: run `sai course init`", field="course")
    return course


# The stored settings as text: the course row also holds the loaded spec, a large JSON
# value that decoding on every page took ~40% of this lookup; the text is also the key of
# the parsed settings kept below.
_SETTINGS_TEXT = select(cast(CourseRecord.settings, Text)).order_by(CourseRecord.id).limit(1)


def settings_of(session: Session) -> CourseSettings:
    """The course settings (the syllabus's defaults where the course sets nothing).

    A page asks for the settings several times (deadlines, slack, standing); the answer is
    kept for the transaction while nothing is written (``service.memo``: with changes
    pending the query runs again, flushing them first), so each call sees the stored value.
    """
    stored = remembered(session, "course settings", lambda: session.scalar(_SETTINGS_TEXT))
    return _parsed_settings(stored or "{}")


@functools.lru_cache(maxsize=8)
def _parsed_settings(stored: str) -> CourseSettings:
    """The settings of one stored value (JSON text), parsed once per process: parsing
    and checking every field took a third of the lookup. ``CourseSettings`` is frozen, so
    each caller may keep the shared instance."""
    return settings_from_dict(json.loads(stored))


def course_today(session: Session, clock: Clock) -> date:
    """Today's date on the course clock in the course's time zone (Berkeley): what decides
    whether a lecture has been held or a direction released, whatever the server's zone."""
    return clock.now().astimezone(settings_of(session).zone).date()


_ASSIGNMENTS = select(Assignment).order_by(Assignment.key)


def all_assignments(session: Session) -> list[Assignment]:
    """Every assignment by key, kept for the transaction (``service.memo``): a dashboard
    needs them for the deadlines and for the running grade."""
    return remembered(session, "assignments", lambda: list(session.scalars(_ASSIGNMENTS)))


def assignment_by_key(session: Session, key: str, *, field: str = "assignment") -> Assignment:
    """The assignment ``key`` names (any case), kept for the transaction (``service.memo``):
    an assignment page and a hand-in look it up two or three times."""
    wanted = key.strip().upper()
    row = remembered(
        session,
        ("assignment", wanted),
        lambda: session.scalar(_ASSIGNMENT_BY_KEY, {"key": wanted}),
    )
    if row is None:
        known = ", ".join(session.scalars(select(Assignment.key).order_by(Assignment.key)))
        raise NotFound(f"no assignment {key!r} (the course has {known or 'none'})", field=field)
    return row


def milestone_by_key(session: Session, key: str, *, field: str = "milestone") -> Milestone:
    row = session.scalar(_MILESTONE_BY_KEY, {"key": key.strip()})
    if row is None:
        raise NotFound(f"no milestone {key!r}", field=field)
    return row


def lecture_by_key(session: Session, key: str, *, field: str = "lecture") -> Lecture:
    row = session.scalar(select(Lecture).where(Lecture.key == key.strip().upper()))
    if row is None:
        raise NotFound(f"no lecture {key!r}", field=field)
    return row


def node_by_id(session: Session, node_id: int, *, field: str = "node") -> Node:
    return row_by_id(session, Node, node_id, what="node", field=field)


def node_by_name(session: Session, name: str, *, field: str = "node") -> Node:
    row = session.scalar(select(Node).where(Node.name == name.strip()))
    if row is None:
        raise NotFound(f"no node named {name!r}", field=field)
    return row


def due_at(assignment: Assignment, settings: CourseSettings) -> datetime:
    """The assignment's deadline: its due date at the course deadline time (Berkeley)."""
    return deadline_at(assignment.due_on, settings)


def milestone_due_at(milestone: Milestone, settings: CourseSettings) -> datetime:
    return deadline_at(milestone.day, settings)


def formation_deadline(session: Session, settings: CourseSettings) -> datetime:
    """When students stop forming groups themselves ("Group formation: Jan 29")."""
    return milestone_due_at(milestone_by_key(session, FORMATION_MILESTONE), settings)
