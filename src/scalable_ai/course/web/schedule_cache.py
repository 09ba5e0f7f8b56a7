"""The course's events, kept between requests until the schedule changes.

Every page that shows deadlines needs the whole schedule (26 lectures, releases, deadlines,
milestones), which ``course.service.schedule.schedule_events`` rebuilds from the stored
course each time (~2.5 ms). Staff changes raise an item's SEQUENCE (that is how subscribed
calendars notice), so the sums of the sequences, the row counts and the course settings
identify a version of the schedule: one small query decides whether the kept copy is
still right.
"""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import Select, Text, cast, func, select
from sqlalchemy.orm import Session

from scalable_ai.course.policy.schedule import CourseEvent
from scalable_ai.course.service.setup import course_spec
from scalable_ai.course.spec import CourseSpec
from scalable_ai.course.tables import Assignment, CourseRecord, Lecture, Milestone


def _version_statement() -> Select[Any]:
    parts = []
    for table in (Lecture, Assignment, Milestone):
        parts.append(select(func.count()).select_from(table).scalar_subquery())
        parts.append(select(func.coalesce(func.sum(table.sequence), 0)).scalar_subquery())
    dates = select(func.max(Lecture.held_on)).scalar_subquery()
    settings = select(cast(CourseRecord.settings, Text)).limit(1).scalar_subquery()
    return select(*parts, dates, settings)


#: Built once: every page that shows deadlines asks.
_VERSION = _version_statement()


def schedule_version(db: Session) -> tuple[Any, ...]:
    return tuple(str(value) for value in db.execute(_VERSION).one())


class ScheduleCache:
    """The course spec as it stands (``course.service.setup.course_spec``) and its events."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: tuple[Any, ...] | None = None
        self._kept: tuple[CourseSpec, list[CourseEvent]] | None = None

    def current(self, db: Session) -> tuple[CourseSpec, list[CourseEvent]]:
        version = schedule_version(db)
        with self._lock:
            if version == self._version and self._kept is not None:
                return self._kept
        spec = course_spec(db)
        kept = (spec, spec.events())
        with self._lock:
            self._version, self._kept = version, kept
        return kept

    def events(self, db: Session) -> list[CourseEvent]:
        return self.current(db)[1]
