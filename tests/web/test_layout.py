"""Layout (issue 13): the navigation, grouped Coursework / Compute / Community / Me, fits one
row at 1366 px and folds into one menu on a phone; no page is wider than a 390 px screen."""

from __future__ import annotations

import itertools

import pytest
from playwright.sync_api import expect

from scalable_ai.course.demo import DEMO_CREDENTIALS

pytestmark = pytest.mark.browser

STUDENT = next(c for c in DEMO_CREDENTIALS if c[0] == "student")
STAFF = next(c for c in DEMO_CREDENTIALS if c[0] == "staff")
STUDENT_PAGES = [
    "/",
    "/grade",
    "/schedule",
    "/assignments",
    "/assignments/A3",
    "/group",
    "/nodes",
    "/checkoffs",
    "/peer-review",
    "/runs",
    "/account",
    "/qa",
    "/questionnaire",
    "/lectures",
    "/project",
    "/participation",
]
STAFF_PAGES = [
    "/staff",
    "/staff/roster",
    "/staff/groups",
    "/staff/nodes",
    "/staff/grades",
    "/staff/assignments/A2",
    "/staff/slack",
    "/staff/scribes",
    "/staff/checkoffs",
    "/staff/peer-reviews",
    "/staff/attendance",
    "/staff/participation",
    "/staff/project",
    "/qa",
]


def _signed_in(browser, server, person, width: int, height: int):
    context = browser.new_context(viewport={"width": width, "height": height})
    context.set_default_timeout(30_000)  # as conftest.new_page: a loaded CI machine
    page = context.new_page()
    page.goto(f"{server.url}/sign-in")
    page.get_by_label("E-mail").fill(person[1])
    page.get_by_label("Password").fill(person[2])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return context, page


@pytest.mark.parametrize("person", [STUDENT, STAFF], ids=["student", "staff"])
def test_the_navigation_fits_one_row_at_1366_px(live_demo, browser, person):
    context, page = _signed_in(browser, live_demo, person, 1366, 900)
    try:
        items = page.locator("nav.nav-wide > ul.nav > li")
        tops = {round(items.nth(i).bounding_box()["y"]) for i in range(items.count())}
        assert len(tops) == 1, f"navigation wraps onto {len(tops)} rows"
        labels = page.locator("nav.nav-wide summary").all_inner_texts()
        assert [label.strip(" ▾") for label in labels] == [
            "Coursework",
            "Compute",
            "Community",
            "Me",
        ]
        # the bell is drawn (an SVG), not an emoji that a browser without an emoji font
        # shows as an empty box
        icon = page.locator("a.bell svg.bell-icon")
        expect(icon).to_be_visible()
        assert icon.bounding_box()["width"] >= 12
    finally:
        context.close()


@pytest.mark.parametrize(
    ("person", "pages"), [(STUDENT, STUDENT_PAGES), (STAFF, STAFF_PAGES)], ids=["student", "staff"]
)
def test_no_page_is_wider_than_a_390_px_phone(live_demo, browser, person, pages):
    context, page = _signed_in(browser, live_demo, person, 390, 844)
    try:
        expect(page.locator("nav.nav-wide")).to_be_hidden()
        expect(page.locator("details.nav-narrow")).to_be_visible()
        too_wide = {}
        for url in pages:
            page.goto(f"{live_demo.url}{url}")
            width = page.evaluate("document.documentElement.scrollWidth")
            if width > 390:
                too_wide[url] = width
        assert not too_wide, f"pages wider than 390 px: {too_wide}"
    finally:
        context.close()


def test_the_node_board_s_day_labels_do_not_overlap_on_a_phone(live_demo, browser):
    context, page = _signed_in(browser, live_demo, STAFF, 390, 844)
    try:
        page.goto(f"{live_demo.url}/staff/nodes")
        boxes = [
            box
            for tick in page.locator(".timeline .ticks .tick").all()
            if tick.is_visible()
            and tick.inner_text().strip()
            and (box := tick.bounding_box()) is not None
        ]
        assert len(boxes) >= 3
        for left, right in itertools.pairwise(boxes):
            assert left["x"] + left["width"] <= right["x"], "day labels overlap"
    finally:
        context.close()
