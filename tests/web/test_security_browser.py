"""The attacker's suite (issue 21): a payload corpus (script tags, event handlers,
``javascript:``/``data:`` URLs, SVG, CSV formulas) pushed as a student and as staff through
every route that stores text — every write of the JSON API, found in its OpenAPI description,
and every form on every page they can reach — then every page read in a real browser as each
role: nothing may answer 500, no payload may run, and the Content-Security-Policy must see no
violation.

The browser records each ``securitypolicyviolation`` event and "Refused to …" console
message, whether ``window.__xss`` (what every payload sets) was ever set, and any element that
carries an event-handler attribute or a ``javascript:``/``data:`` address. A violation means
a page needs something the policy forbids (an inline script that must move to ``/static``) or
something got onto a page that should not be there.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest
from playwright.sync_api import expect

from scalable_ai.course.db import unit_of_work
from scalable_ai.course.demo import DEMO_CREDENTIALS
from scalable_ai.course.service.credentials import create_api_token
from scalable_ai.course.service.people import find_by_email
from scalable_ai.course.web.limits import WebLimits
from tests.web.attacks import NOT_PAGES, attack_api, attack_forms
from tests.web.conftest import STAFF_TOOL, LiveServer, open_platform, serve
from tests.web.conftest import sign_in as sign_in_client

pytestmark = pytest.mark.browser

STAFF = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "staff")
STUDENT = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "student")
MAX_PAGES_PER_ROLE = 80
#: Installed before any page script: collects what the browser refused.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__violations.push(e.violatedDirective + ' ' + (e.blockedURI || 'inline') + ' '
                           + (e.sample || ''));
});
"""
#: Elements a payload would have made live: event handlers, script URLs, srcdoc frames.
LIVE_MARKUP = """() => {
  const found = [];
  for (const el of document.querySelectorAll('*')) {
    for (const attr of el.attributes) {
      const value = attr.value.trim().toLowerCase();
      if (attr.name.startsWith('on') || attr.name === 'srcdoc'
          || (['href', 'src', 'action', 'formaction', 'data'].includes(attr.name)
              && /^(javascript|data|vbscript):/.test(value.replace(/[\\s\\x00-\\x1f]/g, '')))) {
        found.push(el.tagName + ' ' + attr.name + '=' + attr.value.slice(0, 60));
      }
    }
  }
  return found;
}"""


def _token(platform: Any, email: str) -> str:
    with unit_of_work(platform.engine) as session:
        person = find_by_email(session, email)
        return create_api_token(
            session, STAFF_TOOL, person_id=person.id, name="attack", clock=platform.clock
        )[1]


@pytest.fixture(scope="module")
def attacked(demo_database: Path, tmp_path_factory) -> Iterator[tuple[LiveServer, dict]]:
    """The demo course after a student and staff pushed the corpus through every route that
    stores text; also what each route answered."""
    platform = open_platform(
        demo_database,
        tmp_path_factory.mktemp("attacked"),
        limits=WebLimits(requests_per_minute=100_000, concurrent_per_client=1000),
    )
    answers: dict[str, int] = {}
    with platform.client:
        for email, password in (STUDENT, STAFF):
            client = platform.new_client()
            sign_in_client(client, email, password)
            answers.update({f"{email} form {k}": v for k, v in attack_forms(client).items()})
            token = _token(platform, email)
            answers.update({f"{email} api {k}": v for k, v in attack_api(client, token).items()})
    yield from ((server, answers) for server in serve(platform))


def test_every_route_that_stores_text_takes_the_corpus_without_a_500(attacked):
    _server, answers = attacked
    forms = [k for k in answers if " form " in k]
    api = [k for k in answers if " api " in k]
    assert len(forms) >= 15 and len(api) >= 20, (len(forms), len(api))
    assert {k: v for k, v in answers.items() if v >= 500} == {}
    stored = [k for k, v in answers.items() if v in (200, 201, 303)]
    assert len(stored) >= 15, stored  # the corpus did get in somewhere


def sign_in(page: Any, server: Any, email: str, password: str) -> None:
    page.goto(f"{server.url}/sign-in")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def scan(page: Any, base: str, start: str = "/") -> tuple[list[str], list[str]]:
    """Visit every same-site page reachable from ``start``; returns (pages, what went wrong)."""
    wrong: list[str] = []
    page.on(
        "console",
        lambda m: (
            wrong.append(f"{page.url}: {m.text}")
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
        assert answer.status < 500, path
        wrong += [f"{path}: CSP {v}" for v in page.evaluate("window.__violations || []")]
        wrong += [f"{path}: live {m}" for m in page.evaluate(LIVE_MARKUP)]
        if page.evaluate("window.__xss"):
            wrong.append(f"{path}: a payload ran")
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            url, _fragment = urldefrag(href)
            parts = urlsplit(url)
            if f"{parts.scheme}://{parts.netloc}" != base:
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if target not in seen and not any(mark in target for mark in NOT_PAGES):
                seen.add(target)
                queue.append(target)
    return pages, wrong


@pytest.mark.parametrize("role", ["anonymous", "student", "staff"])
def test_no_page_runs_the_corpus_or_breaks_the_content_security_policy(attacked, new_page, role):
    server, _answers = attacked
    page = new_page()
    page.add_init_script(RECORD_VIOLATIONS)
    if role != "anonymous":
        sign_in(page, server, *(STUDENT if role == "student" else STAFF))
    pages, wrong = scan(page, server.url)
    assert len(pages) >= (1 if role == "anonymous" else 10), pages
    assert wrong == []
