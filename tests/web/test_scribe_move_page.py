"""Issue 4, staff pages: "scribe ... assignment (run, inspect, adjust)" — on the scribes page
staff move one student's lecture to another; a move that would give the student the same
lecture twice is refused with the reason."""

from __future__ import annotations

import re

from sqlalchemy import select

from scalable_ai.course.demo import DEMO_CREDENTIALS
from scalable_ai.course.tables import Lecture, ScribeAssignment
from tests.web.conftest import post_form, sign_in

STAFF = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "staff")


def flash(page: str) -> str:
    match = re.search(r'class="flash flash-(?:ok|error)" role="(?:status|alert)">([^<]*)', page)
    assert match, "no message on the page"
    return match.group(1)


def _an_open_scribe(platform) -> tuple[int, int, list[str], list[str]]:
    """(scribe id, student id, the student's lecture keys, every lecture key)."""
    with platform.engine.connect() as connection:
        keys = dict(connection.execute(select(Lecture.id, Lecture.key)).all())
        rows = connection.execute(select(ScribeAssignment)).all()
    row = next(r for r in rows if r.satisfactory is None and r.submitted_at is None)
    mine = [keys[r.lecture_id] for r in rows if r.person_id == row.person_id]
    return row.id, row.person_id, mine, list(keys.values())


def test_staff_move_one_students_scribe_lecture_to_another(demo_platform):
    sign_in(demo_platform.client, *STAFF)
    scribe_id, _, mine, every = _an_open_scribe(demo_platform)
    target = next(k for k in every if k not in mine)
    post_form(demo_platform.client, "/staff/scribes", "/staff/scribes/move",
              {"scribe": str(scribe_id), "lecture": target})
    assert flash(demo_platform.client.get("/staff/scribes").text) == "Scribe moved."
    with demo_platform.engine.connect() as connection:
        moved_to = connection.scalar(select(Lecture.key).join(
            ScribeAssignment, ScribeAssignment.lecture_id == Lecture.id)
            .where(ScribeAssignment.id == scribe_id))
    assert moved_to == target


def test_a_move_onto_the_students_other_lecture_is_refused(demo_platform):
    sign_in(demo_platform.client, *STAFF)
    scribe_id, _, mine, _ = _an_open_scribe(demo_platform)
    with demo_platform.engine.connect() as connection:
        current = connection.scalar(select(Lecture.key).join(
            ScribeAssignment, ScribeAssignment.lecture_id == Lecture.id)
            .where(ScribeAssignment.id == scribe_id))
    other = next(k for k in mine if k != current)
    post_form(demo_platform.client, "/staff/scribes", "/staff/scribes/move",
              {"scribe": str(scribe_id), "lecture": other})
    assert "already scribes" in flash(demo_platform.client.get("/staff/scribes").text)
