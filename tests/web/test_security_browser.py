"""Every page, as each role, in a real browser: the Content-Security-Policy holds without
breaking anything (issue 21: "a strict Content-Security-Policy on every page … tested with a
browser that reports violations").

The scan signs in as a student and as staff (and looks as an anonymous visitor), follows every
same-site link it finds, breadth first, and records each ``securitypolicyviolation`` event
and each "Refused to …" console message. Zero are allowed: a violation means either a page
needs something the policy forbids (an inline script or handler that must move to
``/static``) or something got onto a page that should not be there.
"""

from __future__ import annotations

from collections import deque
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest
from playwright.sync_api import expect

from scalable_ai.course.demo import DEMO_CREDENTIALS

pytestmark = pytest.mark.browser

STAFF = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "staff")
STUDENT = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "student")
#: Addresses that are not pages (files, feeds, JSON) or that end the session.
NOT_PAGES = (
    "/sign-out",
    "/uploads/",
    "/api/",
    "/static/",
    "/scribe-notes/",
    "/calendar",
    ".ics",
    ".csv",
    "authorized_keys",
    "hostfile",
)
MAX_PAGES_PER_ROLE = 80
#: Installed before any page script: collects what the browser refused.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' '
                           + (e.sample || ''));
});
"""


def sign_in(page: Any, server: Any, email: str, password: str) -> None:
    page.goto(f"{server.url}/sign-in")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def scan(page: Any, base: str, start: str = "/") -> tuple[list[str], list[str]]:
    """Visit every same-site page reachable from ``start``; returns (pages, violations)."""
    refused: list[str] = []
    page.on(
        "console",
        lambda m: (
            refused.append(f"{page.url}: {m.text}")
            if "Content Security Policy" in m.text or m.text.startswith("Refused to")
            else None
        ),
    )
    seen, queue, pages = {start}, deque([start]), []
    while queue and len(pages) < MAX_PAGES_PER_ROLE:
        path = queue.popleft()
        answer = page.goto(base + path)
        if answer is None or "text/html" not in answer.headers.get("content-type", ""):
            continue
        pages.append(path)
        refused += [f"{path}: {v}" for v in page.evaluate("window.__violations || []")]
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            url, _fragment = urldefrag(href)
            parts = urlsplit(url)
            if f"{parts.scheme}://{parts.netloc}" != base:
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in seen and not any(mark in target for mark in NOT_PAGES):
                seen.add(target)
                queue.append(target)
    return pages, refused


@pytest.mark.parametrize("role", ["anonymous", "student", "staff"])
def test_no_page_breaks_the_content_security_policy(live_demo, new_page, role):
    page = new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    if role != "anonymous":
        sign_in(page, live_demo, *(STUDENT if role == "student" else STAFF))
    pages, violations = scan(page, live_demo.url)
    assert len(pages) >= (1 if role == "anonymous" else 10), pages
    assert violations == []
