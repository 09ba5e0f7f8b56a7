"""Staff adjust the scribe deal by hand: move one student's lecture to another lecture.

Issue 4: "scribe and peer-review assignment (run, inspect, adjust)". The seeded deal
(:func:`scalable_ai.course.service.activities.assign_scribes`) is the start; a student who
cannot make a lecture is moved to another one here, keeping "Each student is expected to
scribe 2 lectures" (:func:`scalable_ai.course.policy.scribing.check_scribe_move`). A scribe
already handed in or marked stays where it is: its record belongs to that lecture.

A move that leaves the lecture it came from with no scribe is allowed (staff may mean to
leave it unscribed, or to fill it next), but the answer says so (``ScribeMove.warning``), so
the page flashes it and the API returns it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock
from scalable_ai.course.policy.scribing import check_scribe_move, scribable_lectures
from scalable_ai.course.service.actors import Actor, require_staff
from scalable_ai.course.service.course import lecture_by_key, row_by_id, settings_of
from scalable_ai.course.service.setup import course_spec
from scalable_ai.course.tables import Lecture, ScribeAssignment
from scalable_ai.errors import Conflict


@dataclass(frozen=True)
class ScribeMove:
    """A move made: the scribe assignment (now on its new lecture) and, when the lecture it
    left has no scribe any more, that lecture's key and a warning for staff."""

    scribe: ScribeAssignment
    lecture: str
    left_without_scribe: str | None = None
    warning: str | None = None


def move_scribe(
    session: Session, actor: Actor, scribe_id: int, *, to_lecture: str, clock: Clock
) -> ScribeMove:
    """Move scribe assignment ``scribe_id`` (one student, one lecture) to lecture
    ``to_lecture`` ("L9"); the student keeps two different lectures. Leaving the old lecture
    with no scribe is allowed and warned of."""
    require_staff(actor, "move a scribe")
    row = row_by_id(session, ScribeAssignment, scribe_id, what="scribe assignment", field="scribe")
    if row.submitted_at is not None or row.satisfactory is not None:
        raise Conflict(
            "this scribe is already handed in or marked; it stays with its lecture", field="scribe"
        )
    target = lecture_by_key(session, to_lecture)
    keys = dict(session.execute(select(Lecture.id, Lecture.key)).all())
    held_on = dict(session.execute(select(Lecture.key, Lecture.held_on)).all())
    scribable = scribable_lectures(held_on.items(), [r.day for r in course_spec(session).recess])
    mine = [
        keys[lecture_id]
        for lecture_id in session.scalars(
            select(ScribeAssignment.lecture_id)
            .where(ScribeAssignment.person_id == row.person_id)
            .order_by(ScribeAssignment.id)
        )
    ]
    check_scribe_move(
        mine,
        keys[row.lecture_id],
        target.key,
        scribable,
        settings_of(session).scribe_lectures_per_student,
    )
    before = audit.snapshot(row)
    left = row.lecture_id
    row.lecture_id, row.lecture, row.assigned_at = target.id, target, clock.now()
    audit.record(session, actor, "scribe.move", row, before=before, at=clock.now())
    session.flush()
    remaining = session.scalar(
        select(func.count())
        .select_from(ScribeAssignment)
        .where(ScribeAssignment.lecture_id == left)
    )
    if remaining:
        return ScribeMove(row, target.key)
    lecture = row_by_id(session, Lecture, left, what="lecture", field="scribe")
    return ScribeMove(
        row,
        target.key,
        lecture.key,
        f"{lecture.key} ({lecture.title}, {lecture.held_on:%b %d}) has no scribe "
        "now: move another student to it, or leave it unscribed",
    )
