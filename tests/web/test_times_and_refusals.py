"""Times and refusals for people (issue 13): Berkeley time in words, refusals without
field names that keep what was typed, the dashboard's deadlines as they apply to the
student (exceptions, slack days) without unreleased work, and labels in words."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from scalable_ai.course.clock import parse_instant
from scalable_ai.course.db import unit_of_work
from scalable_ai.course.demo import DEMO_CREDENTIALS
from scalable_ai.course.service import slack as slack_service
from scalable_ai.course.service.actors import current_group_id
from scalable_ai.course.service.people import find_by_email
from tests.web.conftest import STAFF_TOOL, post_form, sign_in

STUDENT = next(c for c in DEMO_CREDENTIALS if c[0] == "student")


def _flash(page: str) -> str:
    match = re.search(r'class="flash flash-(?:ok|error)" role="(?:status|alert)">([^<]*)', page)
    assert match, "no message on the page"
    return match.group(1)


def test_a_refused_hand_in_says_why_in_words_and_keeps_the_link_typed(demo_platform):
    sign_in(demo_platform.client, *STUDENT[1:])
    post_form(
        demo_platform.client,
        "/assignments/A3",
        "/assignments/A3/submit",
        {"link": "ftp://example.edu/a3.tar", "integrity_external_code": "flash-attn repo"},
    )
    page = demo_platform.client.get("/assignments/A3").text
    assert _flash(page).startswith("a link starts with https://")  # not "link: a link…"
    assert 'value="ftp://example.edu/a3.tar"' in page
    assert 'value="flash-attn repo"' in page


def test_the_dashboard_shows_the_deadline_an_exception_gave_and_hides_unreleased_work(
    demo_platform,
):
    with unit_of_work(demo_platform.engine) as session:
        ada = find_by_email(session, STUDENT[1])
        slack_service.grant_exception(
            session,
            STAFF_TOOL,
            group_id=current_group_id(session, ada.id),
            assignment="A3",
            new_deadline=parse_instant("2026-03-12T23:59"),
            reason="node-4 disk failure",
            clock=demo_platform.clock,
        )
    sign_in(demo_platform.client, *STUDENT[1:])
    page = demo_platform.client.get("/").text
    deadlines = page[page.index('id="h-deadlines"') : page.index('id="h-slack"')]
    assert "Thu Mar 12, 11:59 PM" in deadlines and "Tue Mar 10, 11:59 PM" not in deadlines
    assert "exception: node-4 disk failure" in deadlines
    assert "A4" not in deadlines and "A5" not in deadlines  # released Mar 17 and Apr 7


def test_assignments_not_released_yet_are_not_open(demo_platform):
    sign_in(demo_platform.client, *STUDENT[1:])
    listing = demo_platform.client.get("/assignments").text
    a4 = re.search(r"A4: .*?</tr>", listing, re.S).group(0)
    assert "not released yet" in a4 and ">open<" not in a4
    page = demo_platform.client.get("/assignments/A4").text
    assert 'id="not-released"' in page and 'action="/assignments/A4/submit"' not in page


def test_a_reservation_refusal_reads_berkeley_time_not_utc(demo_platform):
    sign_in(demo_platform.client, *STUDENT[1:])
    page = demo_platform.client.get("/nodes").text
    partner = re.search(r'name="partner_node_ids" value="(\d+)"', page)
    assert partner is not None, "the demo's /nodes page offers a partner node to reserve"
    form = {
        "partner_node_ids": partner.group(1),
        "starts_at": "2026-03-04T09:00",
        "ends_at": "2026-03-04T10:00",
        "purpose": "2-node FSDP",
    }
    post_form(demo_platform.client, "/nodes", "/nodes/reservations", form)
    page = demo_platform.client.get("/nodes").text
    message = _flash(page)
    assert "+00:00" not in message and not re.search(r"\d{4}-\d\d-\d\dT", message)
    assert not re.match(r"^[a-z_]+: ", message)
    assert 'value="2-node FSDP"' in page


def test_labels_read_as_words_not_keys(demo_platform):
    sign_in(demo_platform.client, *STUDENT[1:])
    assert "midterm_checkin" not in demo_platform.client.get("/checkoffs").text
    assert " v1 v1" not in demo_platform.client.get("/project").text


@pytest.mark.browser
def test_a_reader_in_another_zone_sees_their_own_time_next_to_berkeley_time(live_demo, browser):
    context = browser.new_context(
        timezone_id="Europe/Berlin", viewport={"width": 1366, "height": 900}
    )
    try:
        page = context.new_page()
        page.goto(f"{live_demo.url}/sign-in")
        page.get_by_label("E-mail").fill(STUDENT[1])
        page.get_by_label("Password").fill(STUDENT[2])
        page.get_by_role("button", name="Sign in").click()
        hint = page.locator(".deadlines .your-time").first
        # A3 is due Tue Mar 10, 11:59 PM in Berkeley (PDT since Mar 8): Wed 7:59 AM in Berlin
        expect(hint).to_contain_text(re.compile(r"your time: Wed, Mar 11, 7:59"))
    finally:
        context.close()
