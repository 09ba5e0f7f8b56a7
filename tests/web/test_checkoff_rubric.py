"""The checkoff rubric page (issue 16): staff fill in A1's checkoff rubric for a group at its
slot, the score lands in the checkoff part, and the hand-ins page shows the parts a kit's
rubric computes (A1's written and checkoff) read-only, ignoring a typed value for them."""

from __future__ import annotations

import re

from sqlalchemy import select

from scalable_ai.course.db import unit_of_work
from scalable_ai.course.tables import Score
from tests.web.conftest import post_form, sign_in
from tests.web.test_staff_hand_ins import STAFF, STUDENT, _flash, _group_id


def _group_section(page: str, name: str) -> str:
    return re.search(
        rf'<section class="card" id="group-(\d+)"[^>]*>\s*<h2[^>]*>{name}', page
    ).group(1)


def test_staff_fill_in_the_checkoff_rubric_and_it_is_the_checkoff_part(demo_platform):
    sign_in(demo_platform.client, *STAFF[1:])
    page = demo_platform.client.get("/staff/assignments/A1/checkoff").text
    assert "Walks through the code" in page and "Reads its own results" in page
    titans = _group_section(page, "Tensor Titans")
    post_form(
        demo_platform.client,
        "/staff/assignments/A1/checkoff",
        f"/staff/assignments/A1/checkoff/{titans}/walkthrough",
        {"item-all-members": "1", "item-correct": "1", "comment": "clear"},
    )
    page = demo_platform.client.get("/staff/assignments/A1/checkoff").text
    assert _flash(page).startswith("Checkoff criterion walkthrough graded")
    assert '<span class="checkoff-score">4 / 10</span>' in page
    with unit_of_work(demo_platform.engine) as session:
        rubric = select(Score).where(
            Score.item == "A1.checkoff", Score.comment == "checkoff rubric"
        )
        rows = session.scalars(rubric).all()
        assert rows and {(r.points, r.max_points) for r in rows} == {(4.0, 10.0)}

    # The hand-ins page shows it read-only and a typed value for it changes nothing.
    hand_ins = demo_platform.client.get("/staff/assignments/A1").text
    row = _group_id(hand_ins, "Tensor Titans")
    assert f'name="score-{row}-checkoff"' not in hand_ins
    assert f'name="score-{row}-written"' not in hand_ins
    assert 'href="/staff/assignments/A1/checkoff">rubric</a>' in hand_ins
    post_form(
        demo_platform.client,
        "/staff/assignments/A1",
        "/staff/assignments/A1/scores",
        {f"score-{row}-checkoff": "100", f"score-{row}-code": "77"},
    )
    assert _flash(demo_platform.client.get("/staff/assignments/A1").text) == (
        "Saved 1 score(s) for A1."
    )
    with unit_of_work(demo_platform.engine) as session:
        assert {r.points for r in session.scalars(rubric).all()} == {4.0}


def test_students_cannot_open_or_post_the_checkoff_rubric(demo_platform):
    sign_in(demo_platform.client, *STUDENT[1:])
    assert demo_platform.client.get("/staff/assignments/A1/checkoff").status_code == 403
