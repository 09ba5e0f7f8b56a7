"""Read-only panels the dashboard and staff pages share, each over one service call.

Each reads through the service layer with the visitor's Actor.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from scalable_ai.course.clock import Clock


def my_scribe_lectures(db: Session, actor: Any, person_id: int) -> list[Any]:
    """The lectures this student scribes (the posted scribe schedule, filtered)."""
    from scalable_ai.course.service.activities import list_scribes
    from scalable_ai.course.tables import Lecture

    rows = [r for r in list_scribes(db, actor) if r.person_id == person_id]
    return [(db.get(Lecture, r.lecture_id), r) for r in rows]


def my_checkoffs(db: Session, actor: Any, group: Any) -> list[Any]:
    """The slots the student's group booked."""
    if group is None:
        return []
    from scalable_ai.course.service.activities import list_slots, slot_signups

    return [slot for slot in list_slots(db, actor)
            if any(s.group_id == group.id for s in slot_signups(db, slot.id))]


def my_grade(db: Session, actor: Any, person_id: int, clock: Clock) -> Any:
    """The grade so far with its working (every component's satisfactory flag)."""
    from scalable_ai.course.service.grades import grade_of

    return grade_of(db, actor, person_id).report
