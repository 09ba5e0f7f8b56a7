"""Issue 4, staff pages: "scribe ... assignment (run, inspect, adjust)" — on the scribes page
staff move one student's lecture to another; a move that would give the student the same
lecture twice is refused with the reason; a move that leaves a lecture with no scribe is made
and warned of."""

from __future__ import annotations

import re
from collections import Counter

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
    post_form(
        demo_platform.client,
        "/staff/scribes",
        "/staff/scribes/move",
        {"scribe": str(scribe_id), "lecture": target},
    )
    assert flash(demo_platform.client.get("/staff/scribes").text) == f"Scribe moved to {target}."
    with demo_platform.engine.connect() as connection:
        moved_to = connection.scalar(
            select(Lecture.key)
            .join(ScribeAssignment, ScribeAssignment.lecture_id == Lecture.id)
            .where(ScribeAssignment.id == scribe_id)
        )
    assert moved_to == target


def test_a_move_onto_the_students_other_lecture_is_refused(demo_platform):
    sign_in(demo_platform.client, *STAFF)
    scribe_id, _, mine, _ = _an_open_scribe(demo_platform)
    with demo_platform.engine.connect() as connection:
        current = connection.scalar(
            select(Lecture.key)
            .join(ScribeAssignment, ScribeAssignment.lecture_id == Lecture.id)
            .where(ScribeAssignment.id == scribe_id)
        )
    other = next(k for k in mine if k != current)
    post_form(
        demo_platform.client,
        "/staff/scribes",
        "/staff/scribes/move",
        {"scribe": str(scribe_id), "lecture": other},
    )
    assert "already scribes" in flash(demo_platform.client.get("/staff/scribes").text)


def test_a_move_leaving_a_lecture_with_no_scribe_is_made_with_a_warning(demo_platform):
    sign_in(demo_platform.client, *STAFF)
    with demo_platform.engine.connect() as connection:
        keys = dict(connection.execute(select(Lecture.id, Lecture.key)).all())
        rows = connection.execute(select(ScribeAssignment)).all()
    done = {r.lecture_id for r in rows if r.satisfactory is not None or r.submitted_at}
    on_lecture = Counter(r.lecture_id for r in rows if r.lecture_id not in done)
    lecture_id = min(on_lecture, key=lambda i: (on_lecture[i], i))  # every scribe still open
    *others, last = [r for r in rows if r.lecture_id == lecture_id]

    def move(row) -> str:
        mine = {keys[r.lecture_id] for r in rows if r.person_id == row.person_id}
        target = next(k for k in keys.values() if k not in mine)
        post_form(
            demo_platform.client,
            "/staff/scribes",
            "/staff/scribes/move",
            {"scribe": str(row.id), "lecture": target},
        )
        return target

    for row in others:
        move(row)
        assert "flash-warning" not in demo_platform.client.get("/staff/scribes").text
    target = move(last)
    page = demo_platform.client.get("/staff/scribes").text
    assert flash(page) == f"Scribe moved to {target}."
    warning = re.search(r'class="flash flash-warning" role="status">([^<]*)', page)
    assert warning and warning.group(1).startswith(f"{keys[lecture_id]} (")
    assert "has no scribe now" in warning.group(1)
