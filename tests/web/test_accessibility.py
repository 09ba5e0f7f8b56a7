"""Accessibility (issue 13): axe-core (the copy ``axe-playwright-python`` ships, injected into
the page, nothing fetched) finds no serious or critical violation on any page a student or
the staff use, nor on the public pages, in real chromium."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from scalable_ai.course.demo import DEMO_CREDENTIALS
from tests.web.test_layout import STAFF_PAGES, STUDENT_PAGES

pytestmark = pytest.mark.browser

STUDENT = next(c for c in DEMO_CREDENTIALS if c[0] == "student")
STAFF = next(c for c in DEMO_CREDENTIALS if c[0] == "staff")
PUBLIC_PAGES = ["/sign-in", "/course"]
MORE_STUDENT_PAGES = ["/notifications", "/qa/1", "/qa/ticket", "/written/A2", "/check-in"]
MORE_STAFF_PAGES = [
    "/staff/settings",
    "/staff/grades/1",
    "/staff/scribe-notes",
    "/schedule",
    "/notifications",
    "/qa/1",
]
SERIOUS = {"serious", "critical"}


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each with where."""
    results = Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") in SERIOUS:
            where = ", ".join(node["target"][0] for node in violation["nodes"][:3])
            found.append(
                f"{violation['id']} ({violation['impact']}): {violation['help']} at {where}"
            )
    return found


def _check(page, server, paths: list[str]) -> dict[str, list[str]]:
    failures = {}
    for path in paths:
        answer = page.goto(f"{server.url}{path}")
        if answer is None or answer.status >= 400:
            continue  # a page this demo does not have (checked by the page tests)
        found = serious_violations(page)
        if found:
            failures[path] = found
    return failures


def _sign_in(browser, server, person):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(30_000)  # as conftest.new_page: a loaded CI machine
    page = context.new_page()
    page.goto(f"{server.url}/sign-in")
    page.get_by_label("E-mail").fill(person[1])
    page.get_by_label("Password").fill(person[2])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return context, page


def test_public_pages_have_no_serious_violations(live_demo, browser):
    context = browser.new_context()
    try:
        assert _check(context.new_page(), live_demo, PUBLIC_PAGES) == {}
    finally:
        context.close()


@pytest.mark.parametrize(
    ("person", "paths"),
    [
        (STUDENT, STUDENT_PAGES + MORE_STUDENT_PAGES),
        (STAFF, STAFF_PAGES + MORE_STAFF_PAGES),
    ],
    ids=["student", "staff"],
)
def test_every_page_has_no_serious_violations(live_demo, browser, person, paths):
    context, page = _sign_in(browser, live_demo, person)
    try:
        assert _check(page, live_demo, paths) == {}
    finally:
        context.close()


def test_the_check_finds_what_it_should(browser):
    """The checker is live: an image without a text alternative and a button without a name
    are critical violations."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(
            '<html lang="en"><title>t</title><main><img src="x.png"><button></button></main>'
        )
        found = serious_violations(page)
        assert any(v.startswith("image-alt (critical)") for v in found), found
        assert any(v.startswith("button-name (critical)") for v in found), found
    finally:
        context.close()
