"""Issue 4, "scribe ... assignment (run, inspect, adjust)": staff move one student's scribe
lecture to another by hand, and the student still scribes 2 different lectures ("Each
student is expected to scribe 2 lectures"); a move that leaves a lecture with no scribe is
made and warned of. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select

from scalable_ai.course.policy.scribing import check_scribe_move
from scalable_ai.course.service import Actor, activities
from scalable_ai.course.service.scribe_moves import move_scribe
from scalable_ai.course.tables import AuditEntry, Lecture
from scalable_ai.errors import Conflict, Forbidden, UserError

LECTURES = ["L1", "L2", "L3", "L4"]


def test_a_move_keeps_two_different_lectures():
    assert check_scribe_move(["L1", "L3"], "L3", "L4", LECTURES) == ["L1", "L4"]


@pytest.mark.parametrize(
    ("moving", "to", "field"),
    [
        ("L2", "L4", "scribe"),  # the student does not scribe L2
        ("L3", "L1", "lecture"),  # already scribes L1: two lectures must differ
        ("L3", "L3", "lecture"),  # not a move
        ("L3", "L9", "lecture"),  # not a scribed lecture
    ],
)
def test_a_move_that_breaks_the_two_lecture_rule_is_refused_naming_the_field(moving, to, field):
    with pytest.raises(UserError) as caught:
        check_scribe_move(["L1", "L3"], moving, to, LECTURES)
    assert caught.value.field == field


@pytest.fixture
def dealt(session, enroll, staff, clock):
    enroll(13)
    return activities.assign_scribes(session, staff, seed=5, clock=clock)


def _lecture_key(session, lecture_id: int) -> str:
    return session.get(Lecture, lecture_id).key


def _free_lecture_for(session, rows, person_id: int) -> str:
    taken = {r.lecture_id for r in rows if r.person_id == person_id}
    return next(
        lec.key
        for lec in session.scalars(select(Lecture).order_by(Lecture.held_on))
        if lec.id not in taken
    )


def test_staff_move_one_students_lecture_to_another(session, dealt, staff, clock):
    row = dealt[0]
    target = _free_lecture_for(session, dealt, row.person_id)
    moved = move_scribe(session, staff, row.id, to_lecture=target, clock=clock)
    assert _lecture_key(session, moved.scribe.lecture_id) == target == moved.lecture
    assert moved.scribe.lecture_key == target
    per_student = Counter(r.person_id for r in activities.list_scribes(session, staff))
    assert set(per_student.values()) == {2}
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "scribe.move"))


def test_a_student_is_not_moved_onto_their_other_lecture(session, dealt, staff, clock):
    row = dealt[0]
    other = next(r for r in dealt if r.person_id == row.person_id and r.id != row.id)
    with pytest.raises(UserError) as caught:
        move_scribe(
            session, staff, row.id, to_lecture=_lecture_key(session, other.lecture_id), clock=clock
        )
    assert caught.value.field == "lecture"


def test_a_marked_scribe_stays_with_its_lecture(session, dealt, staff, clock):
    row = activities.mark_scribe(session, staff, dealt[0].id, satisfactory=True, clock=clock)
    with pytest.raises(Conflict):
        move_scribe(
            session,
            staff,
            row.id,
            to_lecture=_free_lecture_for(session, dealt, row.person_id),
            clock=clock,
        )


def test_only_staff_move_scribes(session, dealt, clock):
    student = Actor(person_id=dealt[0].person_id, role="student")
    with pytest.raises(Forbidden):
        move_scribe(session, student, dealt[0].id, to_lecture="L1", clock=clock)


def _scribes_on(session, lecture_id: int) -> int:
    return sum(
        1
        for r in activities.list_scribes(session, Actor.local_staff())
        if r.lecture_id == lecture_id
    )


def test_a_move_that_leaves_a_lecture_with_no_scribe_is_made_and_warned_of(
    session, dealt, staff, clock
):
    row = next(r for r in dealt if _scribes_on(session, r.lecture_id) == 1)
    left = _lecture_key(session, row.lecture_id)
    target = _free_lecture_for(session, dealt, row.person_id)
    moved = move_scribe(session, staff, row.id, to_lecture=target, clock=clock)
    assert moved.lecture == target
    assert moved.left_without_scribe == left
    assert moved.warning is not None and moved.warning.startswith(f"{left} (")
    assert "no scribe" in moved.warning


def test_a_move_from_a_lecture_another_student_still_scribes_has_no_warning(
    session, dealt, staff, clock
):
    first = dealt[0]
    second = next(
        r
        for r in dealt
        if r.person_id != first.person_id
        and first.lecture_id not in {x.lecture_id for x in dealt if x.person_id == r.person_id}
    )
    move_scribe(
        session, staff, second.id, to_lecture=_lecture_key(session, first.lecture_id), clock=clock
    )
    rows = activities.list_scribes(session, staff)
    moved = move_scribe(
        session,
        staff,
        first.id,
        to_lecture=_free_lecture_for(session, rows, first.person_id),
        clock=clock,
    )
    assert (moved.left_without_scribe, moved.warning) == (None, None)
