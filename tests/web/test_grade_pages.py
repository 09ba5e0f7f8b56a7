"""The running grade on the pages (issue 13). On Mar 5 the dashboard said "F — failing: a
component is unsatisfactory" to every student and the grade book "40 students failing a
component", because work not yet due counted as 0; the grade book was wider than its box
with no sorting, filtering or page per student."""

from __future__ import annotations

import csv
import io
import re

import pytest
from playwright.sync_api import expect

from scalable_ai.course.demo import DEMO_CREDENTIALS
from tests.web.conftest import sign_in

STUDENT = next(c for c in DEMO_CREDENTIALS if c[0] == "student")
STAFF = next(c for c in DEMO_CREDENTIALS if c[0] == "staff")


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_on_march_5_the_dashboard_shows_pending_work_as_pending_not_failing(demo_platform):
    sign_in(demo_platform.client, *STUDENT[1:])
    page = _text(demo_platform.client.get("/").text)
    assert "failing" not in page and "unsatisfactory" not in page
    assert re.search(r"A3 core — 0% pending", page)
    assert "Projected" in page and "The letter is final once everything is graded" in page


def test_the_grade_book_counts_nobody_failing_for_work_not_graded_yet(demo_platform):
    sign_in(demo_platform.client, *STAFF[1:])
    page = demo_platform.client.get("/staff/grades").text
    assert re.search(r'id="failing-count">0 failing', page)
    at_risk = demo_platform.client.get("/staff/grades?standing=at-risk&sort=projected").text
    assert "Showing" in at_risk and "on track</span></td>" not in at_risk
    found = demo_platform.client.get("/staff/grades?q=ada.ng").text
    assert "Showing 1 of 40 students" in _text(found)


def test_letters_go_to_the_registrar_only_once_everything_is_graded(demo_platform):
    sign_in(demo_platform.client, *STAFF[1:])
    refused = demo_platform.client.get("/staff/grades/letters.csv")
    assert refused.status_code == 303
    follow = demo_platform.client.get(refused.headers["location"]).text
    assert "letters are final only once everything is graded" in follow


def test_the_canvas_export_has_canvas_s_gradebook_columns(demo_platform):
    sign_in(demo_platform.client, *STAFF[1:])
    rows = list(csv.reader(io.StringIO(demo_platform.client.get("/staff/grades/canvas.csv").text)))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert len(rows) == 41 and rows[1][3].endswith("@example.edu")


def test_a_what_if_score_out_of_range_is_refused_in_words(demo_platform):
    sign_in(demo_platform.client, *STUDENT[1:])
    answer = demo_platform.client.get("/grade?what_if.A3.code=140")
    assert answer.status_code == 303
    page = demo_platform.client.get("/grade").text
    assert "a percentage between 0 and 100, got 140" in page


@pytest.mark.browser
def test_a_student_tries_a_what_if_and_staff_open_a_student_from_the_book(live_demo, new_page):
    page = new_page(1366, 900)
    page.goto(f"{live_demo.url}/sign-in")
    page.get_by_label("E-mail").fill(STUDENT[1])
    page.get_by_label("Password").fill(STUDENT[2])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name=re.compile("what-if scores")).click()
    before = page.locator("#projected").inner_text()
    page.get_by_label("A3.code").fill("100")
    page.get_by_label("A3.written").fill("100")
    page.get_by_role("button", name="Show this grade").click()
    expect(page.get_by_text("what-if: not your real grade")).to_be_visible()
    assert float(page.locator("#projected").inner_text()) > float(before)
    live_demo.screenshot(page, "grade-what-if")

    staff = new_page(1366, 900)
    staff.goto(f"{live_demo.url}/sign-in")
    staff.get_by_label("E-mail").fill(STAFF[1])
    staff.get_by_label("Password").fill(STAFF[2])
    staff.get_by_role("button", name="Sign in").click()
    staff.goto(f"{live_demo.url}/staff/grades")
    # the standing column stays in view at 1366 px (it was off to the right, 1890 px wide)
    header = staff.get_by_role("columnheader", name="Standing").bounding_box()
    assert header is not None and header["x"] + header["width"] <= 1366
    expect(staff.locator("svg.distribution rect")).to_have_count(20)
    staff.get_by_label("Standing").select_option("at-risk")
    staff.get_by_role("button", name="Show").click()
    expect(staff.locator("#shown-count")).to_contain_text("Showing")
    staff.get_by_role("row").nth(1).get_by_role("link").first.click()
    expect(staff.get_by_role("heading", name="Recorded scores")).to_be_visible()
    live_demo.screenshot(staff, "staff-grade-one")
