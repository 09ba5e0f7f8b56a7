"""Syllabus, "Lecture and Deadline Schedule": Tuesday/Thursday lectures, six parts, guests,
the recess; "Guest speakers and exact ordering are subject to change"."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from scalable_ai.course.clock import BERKELEY
from scalable_ai.course.policy.late import deadline_at
from scalable_ai.course.policy.schedule import (
    EventKind,
    Lecture,
    move_lecture,
    released_at,
    retitle_lecture,
    swap_lectures,
)
from scalable_ai.course.spec import load_spec
from scalable_ai.errors import Conflict, NotFound, UserError

SPEC = load_spec()
RECESS = SPEC.recess


def by_key(lectures, key) -> Lecture:
    return next(x for x in lectures if x.key == key)


def test_lectures_meet_tuesdays_and_thursdays_930_to_1100_in_521_cory():
    lectures = [e for e in SPEC.events() if e.kind is EventKind.LECTURE]
    assert len(lectures) == 26
    for e in lectures:
        assert e.day.weekday() in (1, 3)
        assert e.starts_at.astimezone(BERKELEY).time() == time(9, 30)
        assert e.ends_at.astimezone(BERKELEY).time() == time(11, 0)
        assert e.location == "521 Cory Hall"


def test_lectures_are_grouped_into_six_parts():
    assert [p.title for p in SPEC.parts] == [
        "Architecture",
        "Pre-Training of Language Models",
        "Post-Training of Language Models",
        "Efficient Inference",
        "LLM Applications and Use Cases",
        "Research Greenfields",
    ]
    assert [lec.part for lec in SPEC.lectures] == sorted(lec.part for lec in SPEC.lectures)
    assert SPEC.lecture("L5").part == 1 and SPEC.lecture("L6").part == 2


def test_guest_lectures_are_marked():
    guests = {lec.key for lec in SPEC.lectures if lec.guest}
    assert guests == {"L5", "L7", "L10", "L13", "L15", "L16", "L17", "L19", "L22", "L23"}
    assert SPEC.lecture("L7").guest_note == "Curator"


def test_spring_recess_has_no_class():
    assert [r.day for r in RECESS] == [date(2026, 3, 24), date(2026, 3, 26)]
    recess_days = {r.day for r in RECESS}
    assert not any(lec.day in recess_days for lec in SPEC.lectures)
    recess_events = [e for e in SPEC.events() if e.kind is EventKind.RECESS]
    assert [e.description for e in recess_events] == ["No class", "No class"]


def test_deadlines_are_at_the_course_deadline_time():
    assert deadline_at(date(2026, 2, 10)) == datetime(2026, 2, 10, 23, 59, tzinfo=BERKELEY)
    deadlines = [e for e in SPEC.events() if e.kind is EventKind.DEADLINE]
    assert all(e.starts_at.time() == time(23, 59) for e in deadlines)
    assert {e.title for e in deadlines} >= {
        "A1 due (Parallelism Assignment)",
        "Peer review due",
        "Final deliverables due",
    }


def test_an_assignment_is_released_at_the_start_of_its_release_day_in_berkeley():
    assert released_at(date(2026, 1, 27)) == datetime(2026, 1, 27, 0, 0, tzinfo=BERKELEY)


def test_staff_can_move_a_lecture_keeping_its_uid_and_raising_its_sequence():
    moved = move_lecture(SPEC.lectures, "L26", date(2026, 4, 28), recess=RECESS)
    lecture = by_key(moved, "L26")
    assert lecture.day == date(2026, 4, 28) and lecture.sequence == 1
    assert lecture.uid == SPEC.lecture("L26").uid
    assert by_key(moved, "L25").sequence == 0  # untouched lectures keep their SEQUENCE


def test_a_lecture_moves_only_to_a_free_tuesday_or_thursday_outside_the_recess():
    with pytest.raises(UserError, match="Wednesday") as info:
        move_lecture(SPEC.lectures, "L26", date(2026, 4, 29), recess=RECESS)
    assert info.value.field == "day"
    with pytest.raises(UserError, match="recess"):
        move_lecture(SPEC.lectures, "L18", date(2026, 3, 24), recess=RECESS)
    with pytest.raises(Conflict, match="swap them instead"):
        move_lecture(SPEC.lectures, "L26", date(2026, 4, 21), recess=RECESS)
    with pytest.raises(NotFound):
        move_lecture(SPEC.lectures, "L99", date(2026, 4, 28), recess=RECESS)


def test_moving_a_lecture_earlier_renumbers_the_schedule():
    moved = move_lecture(SPEC.lectures, "L26", date(2026, 1, 15), recess=RECESS)
    first = moved[0]
    assert (first.key, first.number, first.label) == (
        "L26",
        1,
        "L1. Multi-Agent Systems and Architecture",
    )
    assert by_key(moved, "L1").number == 2 and by_key(moved, "L1").sequence == 1
    assert [x.number for x in moved] == list(range(1, 27))


def test_a_lecture_stays_inside_the_term_and_off_presentation_days():
    with pytest.raises(UserError, match="outside the term"):
        move_lecture(SPEC.lectures, "L26", date(2026, 1, 15), recess=RECESS, term=SPEC.term)
    with pytest.raises(Conflict, match="taken"):
        move_lecture(
            SPEC.lectures,
            "L26",
            date(2026, 4, 28),
            recess=RECESS,
            occupied=[p.day for p in SPEC.presentations],
        )


def test_staff_can_retitle_a_lecture():
    retitled = retitle_lecture(SPEC.lectures, "L10", "Muon and SOAP in Practice")
    lecture = by_key(retitled, "L10")
    assert lecture.label == "L10. Muon and SOAP in Practice" and lecture.sequence == 1
    with pytest.raises(UserError):
        retitle_lecture(SPEC.lectures, "L10", "  ")


def test_staff_can_swap_two_lectures():
    swapped = swap_lectures(SPEC.lectures, "L24", "L25")
    l24, l25 = by_key(swapped, "L24"), by_key(swapped, "L25")
    assert (l24.day, l25.day) == (date(2026, 4, 21), date(2026, 4, 16))
    assert (l24.number, l25.number) == (25, 24)
    assert l25.label == "L24. Advanced RL Algorithms"
    assert (l24.sequence, l25.sequence) == (1, 1)
    assert (l24.uid, l25.uid) == (SPEC.lecture("L24").uid, SPEC.lecture("L25").uid)


def test_event_uids_are_stable_and_unique():
    uids = [e.uid for e in SPEC.events()]
    assert len(uids) == len(set(uids))
    assert uids == [e.uid for e in load_spec().events()]
