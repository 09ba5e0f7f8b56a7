"""Read-only panels the dashboard and staff pages share, each over one service call.

Each returns None when the service it needs is not in this build yet, so a page shows
"not available yet" instead of failing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from scalable_ai.course.clock import Clock


def my_scribe_lectures(db: Session, actor: Any, person_id: int) -> list[Any] | None:
    try:
        from scalable_ai.course.service.scribing import scribe_lectures_of
    except ImportError:
        return None
    return list(scribe_lectures_of(db, actor, person_id))


def my_checkoffs(db: Session, actor: Any, group: Any) -> list[Any] | None:
    if group is None:
        return []
    try:
        from scalable_ai.course.service.signups import group_signups
    except ImportError:
        return None
    return list(group_signups(db, actor, group.id))


def my_grade(db: Session, actor: Any, person_id: int, clock: Clock) -> Any | None:
    from scalable_ai.course.service.grades import grade_of

    return grade_of(db, actor, person_id).report
