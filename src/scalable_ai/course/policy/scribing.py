"""Scribe assignments: "Each student is expected to scribe 2 lectures."

Which lectures are scribed: every lecture in the schedule, guest lectures included (the
guest speaks, students scribe the talk like any other). Recess days have no lecture and are
never scribed; presentation sessions and the poster session are not lectures either. The
caller passes the lectures to scribe; :func:`scribable_lectures` drops recess days.

The assignment is balanced (lectures' scribe counts differ by at most one), covers every
lecture when there are enough students (``students × 2 ≥ lectures``), never gives a student
the same lecture twice, and is deterministic given the seed: the seed shuffles the roster,
then slots are dealt round-robin over the lectures in date order.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from scalable_ai.errors import UserError


@dataclass(frozen=True)
class ScribeAssignment:
    student: str
    lecture: str  # the lecture's key ("L7")


def scribable_lectures(
    lectures: Iterable[tuple[str, date]], recess_days: Iterable[date] = ()
) -> list[str]:
    """Lecture keys in date order, without any that fall on a recess day."""
    off = set(recess_days)
    return [key for key, day in sorted(lectures, key=lambda x: x[1]) if day not in off]


def assign_scribes(
    students: Sequence[str], lectures: Sequence[str], seed: int = 0, per_student: int = 2
) -> list[ScribeAssignment]:
    """Give each student ``per_student`` distinct lectures, balanced and deterministic.

    Slots are dealt in rounds: round ``r`` gives each student (in the seeded order) the next
    lecture in a cycle over ``lectures``. A rotation ``s`` of the roster between rounds is
    chosen as the smallest one under which no student lands on a lecture twice (with two
    rounds, ``s = 0`` works unless the roster size is a multiple of the lecture count, then
    ``s = 1`` does)."""
    if len(set(students)) != len(students):
        raise UserError("a student is listed twice", field="students")
    if len(set(lectures)) != len(lectures):
        raise UserError("a lecture is listed twice", field="lectures")
    if not students:
        return []
    if len(lectures) < per_student:
        raise UserError(
            f"each student scribes {per_student} different lectures, but only "
            f"{len(lectures)} can be scribed",
            field="lectures",
        )
    order = sorted(students)
    random.Random(seed).shuffle(order)
    n = len(order)
    for shift in range(n):
        deal = [
            (order[(i + r * shift) % n], lectures[(r * n + i) % len(lectures)])
            for r in range(per_student)
            for i in range(n)
        ]
        if len(set(deal)) == len(deal):
            return [ScribeAssignment(student, lecture) for student, lecture in deal]
    raise UserError(
        "no balanced scribe assignment exists for this roster",  # pragma: no cover
        field="students",
    )


def scribes_per_lecture(assignments: Iterable[ScribeAssignment]) -> dict[str, list[str]]:
    """Lecture key → its scribes."""
    table: dict[str, list[str]] = {}
    for a in assignments:
        table.setdefault(a.lecture, []).append(a.student)
    return table


def check_scribe_move(
    student_lectures: Sequence[str],
    moving: str,
    to: str,
    scribable: Sequence[str],
    per_student: int = 2,
) -> list[str]:
    """Staff move one of a student's scribe lectures (``moving``) to another (``to``) by hand;
    returns the student's lectures after the move. The move keeps "each student is expected to
    scribe 2 lectures": the student still has ``per_student`` different lectures, and ``to``
    is one that is scribed (not a recess day)."""
    if moving not in student_lectures:
        raise UserError(f"the student does not scribe {moving}", field="scribe")
    if to == moving:
        raise UserError(f"the student already scribes {to}; pick another lecture", field="lecture")
    if to not in scribable:
        raise UserError(f"{to} is not a lecture that is scribed", field="lecture")
    if to in student_lectures:
        raise UserError(
            f"the student already scribes {to}; each scribes {per_student} different lectures",
            field="lecture",
        )
    after = [to if key == moving else key for key in student_lectures]
    if len(after) != per_student:
        raise UserError(
            f"the student has {len(after)} scribe lectures, not {per_student}; "
            "deal scribes again instead",
            field="scribe",
        )
    return after
