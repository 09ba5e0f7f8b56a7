"""Accessibility (issue 13): axe-core (the copy ``axe-playwright-python`` ships, injected into
the page, nothing fetched) finds no serious or critical violation on any page a student or
the staff use, nor on the public pages, in real chromium.

Speed (43 pages; axe's own work was half of the time): every page is checked, but the
header, navigation and footer, one template shared by every page of a person, are checked in
full only on the first ``FULL_CHROME`` pages of each list (a page standing alone in the
navigation and one inside a highlighted group, the two states the navigation's style has);
on the others axe checks the page's own content, which halves its work. axe-core is loaded
by the browser context into each page as it is created (an init script) instead of being sent
from Python for each page, and pages are checked in a few tabs: the next page is rendered by
the server while axe runs on the last one in its own renderer process.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import axe_playwright_python
import pytest
from axe_playwright_python.sync_playwright import DEFAULT_OPTIONS, Axe
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
AXE_JS = Path(axe_playwright_python.__file__).with_name("axe.min.js")
TABS = 3
FULL_CHROME = 2
OPTIONS = json.dumps(DEFAULT_OPTIONS)
CHROME = json.dumps({"exclude": [["body > header"], ["body > footer"]]})
#: Starts axe on the loaded page and keeps its promise; ``COLLECT`` waits for it.
START = f"() => {{ window.__axeResults = axe.run(document, {OPTIONS}); }}"
START_CONTENT = f"() => {{ window.__axeResults = axe.run({CHROME}, {OPTIONS}); }}"
COLLECT = "() => window.__axeResults"
BROKEN = '<html lang="en"><title>t</title><main><img src="x.png"><button></button></main>'


def _serious(response: dict) -> list[str]:
    found = []
    for violation in response["violations"]:
        if violation.get("impact") in SERIOUS:
            where = ", ".join(node["target"][0] for node in violation["nodes"][:3])
            found.append(
                f"{violation['id']} ({violation['impact']}): {violation['help']} at {where}"
            )
    return found


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each with where."""
    return _serious(Axe().run(page).response)


def _check(context, server, paths: list[str]) -> dict[str, list[str]]:
    """Every path's serious violations, ``TABS`` pages at a time in the context (whose init
    script loaded axe-core): each page is loaded and axe started on it, then collected."""
    tabs = [context.new_page() for _ in range(TABS)]
    failures: dict[str, list[str]] = {}
    try:
        for start in range(0, len(paths), TABS):
            running = []
            for tab, path in zip(tabs, paths[start : start + TABS], strict=False):
                answer = tab.goto(f"{server.url}{path}")
                if answer is None or answer.status >= 400:
                    continue  # a page this demo does not have (checked by the page tests)
                tab.evaluate(START if paths.index(path) < FULL_CHROME else START_CONTENT)
                running.append((tab, path))
            for tab, path in running:
                found = _serious(tab.evaluate(COLLECT))
                if found:
                    failures[path] = found
    finally:
        for tab in tabs:
            tab.close()
    return failures


def _context(browser):
    context = browser.new_context(viewport={"width": 1366, "height": 900})
    context.set_default_timeout(10_000)
    context.add_init_script(path=str(AXE_JS))
    return context


def _sign_in(browser, server, person):
    context = _context(browser)
    page = context.new_page()
    page.goto(f"{server.url}/sign-in")
    page.get_by_label("E-mail").fill(person[1])
    page.get_by_label("Password").fill(person[2])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    page.close()
    return context


def test_public_pages_have_no_serious_violations(live_demo, browser):
    context = _context(browser)
    try:
        assert _check(context, live_demo, PUBLIC_PAGES) == {}
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
    context = _sign_in(browser, live_demo, person)
    try:
        assert _check(context, live_demo, paths) == {}
    finally:
        context.close()


def test_the_check_finds_what_it_should(browser):
    """The checker is live: an image without a text alternative and a button without a name
    are critical violations."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.set_content(BROKEN)
        found = serious_violations(page)
        assert any(v.startswith("image-alt (critical)") for v in found), found
        assert any(v.startswith("button-name (critical)") for v in found), found
    finally:
        context.close()
    # and so is the way the pages are checked: axe from the init script, in tabs
    context = _context(browser)
    try:
        context.route(
            "http://axe.test/**", lambda route: route.fulfill(body=BROKEN, content_type="text/html")
        )
        failures = _check(context, SimpleNamespace(url="http://axe.test"), ["/a", "/b", "/c", "/d"])
        assert sorted(failures) == ["/a", "/b", "/c", "/d"], failures
        assert all(any(v.startswith("image-alt (critical)") for v in f) for f in failures.values())
    finally:
        context.close()
