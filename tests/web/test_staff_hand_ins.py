"""Grading in the browser (issue 13): "/assignments/A2 as staff lists hand-ins with an empty
'What' column and no group ... scores can be entered only through the CLI or API." The
staff page per assignment has a row per group with what it handed in and how it was
accepted, and score entry per part with a note, saved for the whole table at once."""

from __future__ import annotations

import html
import re

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from scalable_ai.course.db import unit_of_work
from scalable_ai.course.demo import DEMO_CREDENTIALS
from scalable_ai.course.tables import AuditEntry, Score
from tests.web.conftest import post_form, sign_in

STAFF = next(c for c in DEMO_CREDENTIALS if c[0] == "staff")
STUDENT = next(c for c in DEMO_CREDENTIALS if c[0] == "student")


def _flash(page: str) -> str:
    match = re.search(r'class="flash flash-(?:ok|error)" role="(?:status|alert)">([^<]*)', page)
    assert match, "no message on the page"
    return html.unescape(match.group(1))


def _group_id(page: str, name: str) -> str:
    return re.search(rf'<tr id="group-(\d+)">\s*<th scope="row">{name}<', page).group(1)


@pytest.fixture
def a5_without_rubrics(monkeypatch, tmp_path):
    """A5 as an assignment whose written and checkoff parts are typed on this page: the kits
    folder points at an empty one. (A5's real kit has questions.yaml and checkoff.yaml, so
    there those two parts are read-only here and graded on the rubric pages.)"""
    monkeypatch.setattr("scalable_ai.kits.kit.kits_root", lambda: tmp_path)


def test_a_row_per_group_with_members_link_and_how_it_was_accepted(demo_platform):
    sign_in(demo_platform.client, *STAFF[1:])
    page = demo_platform.client.get("/staff/assignments/A2").text
    assert page.count('<tr id="group-') == 8
    assert "Ada Ng" in page and "https://github.com/tensor-titans/a2/commit/" in page
    assert re.search(r'<span class="pill neutral">1 with a slack day</span>', page)
    assert 'value="73"' in page  # Tensor Titans' A2 code score, entered by the demo's staff
    listing = demo_platform.client.get("/assignments/A2").text
    assert "Tensor Titans" in listing and 'href="/staff/assignments/A2"' in listing
    # the assignment page's hand-ins list as staff see it: the group and what was handed in
    # (its "What" column was empty, with no group)
    assert re.search(
        r"<td>Speculative Decoders</td>\s*<td>[^<]*<a [^>]*href=\"https://github.com/speculative-decoders/a2/commit/",
        listing,
    )


def test_staff_enter_scores_per_part_with_a_note_for_every_member(
    demo_platform, a5_without_rubrics
):
    sign_in(demo_platform.client, *STAFF[1:])
    page = demo_platform.client.get("/staff/assignments/A5").text
    titans = _group_id(page, "Tensor Titans")
    post_form(
        demo_platform.client,
        "/staff/assignments/A5",
        "/staff/assignments/A5/scores",
        {
            f"score-{titans}-code": "88",
            f"score-{titans}-written": "91.5",
            f"note-{titans}": "clean RAG index",
        },
    )
    page = demo_platform.client.get("/staff/assignments/A5").text
    assert _flash(page) == "Saved 2 score(s) for A5."
    with unit_of_work(demo_platform.engine) as session:
        rows = session.scalars(select(Score).where(Score.item == "A5.code")).all()
        assert len(rows) == 5 and {(r.points, r.comment) for r in rows} == {(88, "clean RAG index")}
        audited = session.scalar(select(func.count(AuditEntry.id)))
    # saving the page again changes nothing and writes nothing
    post_form(
        demo_platform.client,
        "/staff/assignments/A5",
        "/staff/assignments/A5/scores",
        {
            f"score-{titans}-code": "88",
            f"score-{titans}-written": "91.5",
            f"note-{titans}": "clean RAG index",
        },
    )
    assert _flash(demo_platform.client.get("/staff/assignments/A5").text) == "Nothing changed."
    with unit_of_work(demo_platform.engine) as session:
        assert session.scalar(select(func.count(AuditEntry.id))) == audited


def test_a_score_out_of_range_saves_nothing_and_keeps_what_was_typed(
    demo_platform, a5_without_rubrics
):
    sign_in(demo_platform.client, *STAFF[1:])
    page = demo_platform.client.get("/staff/assignments/A5").text
    titans, gang = _group_id(page, "Tensor Titans"), _group_id(page, "Gradient Gang")
    post_form(
        demo_platform.client,
        "/staff/assignments/A5",
        "/staff/assignments/A5/scores",
        {f"score-{titans}-code": "80", f"score-{gang}-checkoff": "140"},
    )
    page = demo_platform.client.get("/staff/assignments/A5").text
    assert _flash(page) == "Gradient Gang, checkoff: points must be between 0 and 100"
    assert f'name="score-{gang}-checkoff" min="0" max="100" step="0.1" value="140"' in page
    with unit_of_work(demo_platform.engine) as session:
        assert session.scalar(select(func.count(Score.id)).where(Score.item.like("A5.%"))) == 0


def test_students_cannot_open_the_grading_page(demo_platform):
    sign_in(demo_platform.client, *STUDENT[1:])
    assert demo_platform.client.get("/staff/assignments/A2").status_code == 403


@pytest.mark.browser
def test_staff_grade_a_group_in_the_browser_and_the_student_sees_it(
    live_demo, new_page, a5_without_rubrics
):
    staff = new_page(1366, 900)
    staff.goto(f"{live_demo.url}/sign-in")
    staff.get_by_label("E-mail").fill(STAFF[1])
    staff.get_by_label("Password").fill(STAFF[2])
    staff.get_by_role("button", name="Sign in").click()
    staff.get_by_role("navigation", name="Main").get_by_text("Coursework").click()
    staff.get_by_role("link", name="Hand-ins & scores").click()
    staff.get_by_role("link", name="A5", exact=True).click()
    staff.get_by_label("Tensor Titans code").fill("95")
    staff.get_by_label("Tensor Titans written").fill("90")
    staff.get_by_label("Tensor Titans checkoff").fill("100")
    staff.get_by_role("button", name="Save scores").click()
    expect(staff.get_by_role("status")).to_have_text("Saved 3 score(s) for A5.")
    live_demo.screenshot(staff, "staff-hand-ins")

    student = new_page(1366, 900)
    student.goto(f"{live_demo.url}/sign-in")
    student.get_by_label("E-mail").fill(STUDENT[1])
    student.get_by_label("Password").fill(STUDENT[2])
    student.get_by_role("button", name="Sign in").click()
    student.goto(f"{live_demo.url}/grade")
    a5 = student.get_by_role("row", name=re.compile("A5 core"))
    expect(a5).to_contain_text("94.5")  # 0.5·95 + 0.3·90 + 0.2·100
    expect(a5).to_contain_text("satisfactory")
