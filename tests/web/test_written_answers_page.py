"""Conceptual questions in a real browser (issue 16): a group answers on the platform (Markdown
with math typeset as MathML under the strict CSP, and a PDF), staff grade the answer with the
kit's rubric, the group sees its score, and changing a rubric item's points re-scores the
answer (and the grade book's written part)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from scalable_ai.course.db import unit_of_work
from scalable_ai.course.service import groups as group_service
from scalable_ai.course.tables import Score
from tests.web.conftest import STAFF_TOOL, add_people, password_of

pytestmark = pytest.mark.browser

TEAM = {
    "ada": ("Ada Lovelace", "ada.written@berkeley.example", "student"),
    "alan": ("Alan Turing", "alan.written@berkeley.example", "student"),
    "grace": ("Grace Hopper", "grace.written@berkeley.example", "student"),
    "edsger": ("Edsger Dijkstra", "edsger.written@berkeley.example", "student"),
}
STAFF = {"tess": ("Tess Assistant", "tess.written@berkeley.example", "staff")}
ANSWER = "Acceptance gives $\\min(p, q)$; a rejection draws from\n\n$$\\max(p - q, 0)$$"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def sign_in(page, server, person) -> None:
    name, email, _ = person
    page.goto(f"{server.url}/sign-in")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password_of(name))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_a_group_answers_staff_grade_with_the_rubric_and_a_rubric_change_rescores(
    live_server, new_page, tmp_path
):
    platform = live_server.platform
    platform.set_clock("2026-03-20T12:00")
    ids = add_people(platform.engine, platform.clock, {**TEAM, **STAFF})
    with unit_of_work(platform.engine) as session:
        group = group_service.propose_group(
            session, STAFF_TOOL, name="Residual Readers", member_ids=[ids[k] for k in TEAM],
            clock=platform.clock,
        )  # fmt: skip
        session.flush()
        group_service.confirm_group(session, STAFF_TOOL, group.id, clock=platform.clock)

    ada = new_page()
    refused = []
    ada.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else None)
    sign_in(ada, live_server, TEAM["ada"])
    ada.goto(f"{live_server.url}/assignments/A4")
    ada.get_by_role("link", name="Answer the conceptual questions of A4").click()
    ada.get_by_label("Your group's answer to 3.1").fill(ANSWER)
    ada.get_by_role("button", name="Save answer to 3.1").click()
    expect(ada.get_by_role("status")).to_contain_text("Answer to question 3.1 saved")
    # The saved answer shows its math typeset (MathML drawn by the browser, no script).
    preview = ada.locator("#answer-3\\.1")
    expect(preview.locator("math")).to_have_count(2)
    expect(preview.locator('math[display="block"]')).to_be_visible()
    assert preview.locator("math").first.bounding_box()["width"] > 10
    # 3.2 handed in as a PDF only.
    pdf = tmp_path / "speedup.pdf"
    pdf.write_bytes(PDF)
    ada.locator("#pdf-3\\.2").set_input_files(str(pdf))
    ada.get_by_role("button", name="Save answer to 3.2").click()
    expect(ada.get_by_role("status")).to_contain_text("Answer to question 3.2 saved")
    assert not refused, refused

    tess = new_page()
    sign_in(tess, live_server, STAFF["tess"])
    tess.goto(f"{live_server.url}/staff/assignments/A4/written")
    answer = tess.get_by_role("article", name="Residual Readers's answer to 3.1")
    expect(answer).to_contain_text("a rejection draws from")
    expect(answer.locator("math")).to_have_count(2)
    pdf_answer = tess.get_by_role("article", name="Residual Readers's answer to 3.2")
    link = pdf_answer.get_by_role("link", name="speedup.pdf")
    assert tess.request.get(live_server.url + link.get_attribute("href")).body() == PDF
    answer.locator('input[name="item-accept"]').check()
    answer.locator('input[name="item-reject"]').check()
    answer.get_by_role("button", name="Grade Residual Readers's 3.1").click()
    expect(tess.get_by_role("status")).to_contain_text("Answer graded")
    expect(tess.locator("#progress")).to_contain_text("3.1: 1 of 1 graded")

    ada.reload()
    expect(ada.locator("#score-3\\.1")).to_contain_text("Graded: 4 / 6")

    tess.get_by_label("accept: P(emit x via acceptance)").fill("3")
    tess.get_by_role("button", name="Change points of 3.1 accept").click()
    expect(tess.get_by_role("status")).to_contain_text("1 group(s) re-scored")
    ada.reload()
    expect(ada.locator("#score-3\\.1")).to_contain_text("Graded: 5 / 6")
    live_server.screenshot(ada, "written-answers")
    with unit_of_work(platform.engine) as session:
        scores = session.scalars(select(Score).where(Score.item == "A4.written")).all()
        assert {(s.points, s.max_points) for s in scores} == {(5.0, 40.0)}
        assert len(scores) == len(TEAM)
