"""Staff pages drive the service's use cases: scribes dealt again with another seed, slots
opened and booked, exceptions approved, slack days reversed, scribes marked (issue 4: "slack-day
ledger and exceptions, scribe and peer-review assignment (run, inspect, adjust), checkoff slot
management")."""

from __future__ import annotations

import html
import re

from scalable_ai.course.demo import DEMO_CREDENTIALS
from tests.web.conftest import post_form, sign_in

STAFF = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "staff")


def flash(page: str) -> str:
    match = re.search(r'class="flash flash-(?:ok|error)" role="(?:status|alert)">([^<]*)', page)
    assert match, "no message on the page"
    return match.group(1)


def test_staff_deal_scribes_again_with_another_seed(demo_platform):
    sign_in(demo_platform.client, *STAFF)
    post_form(demo_platform.client, "/staff/scribes", "/staff/scribes/assign", {"seed": "7"})
    assert "already assigned" in flash(demo_platform.client.get("/staff/scribes").text)
    post_form(
        demo_platform.client,
        "/staff/scribes",
        "/staff/scribes/assign",
        {"seed": "7", "replace": "1"},
    )
    assert "scribe assignments dealt" in flash(demo_platform.client.get("/staff/scribes").text)


def test_staff_mark_a_scribe_satisfactory(demo_platform):
    sign_in(demo_platform.client, *STAFF)
    page = demo_platform.client.get("/staff/scribes").text
    scribe_id = re.search(r'action="/staff/scribes/(\d+)/mark"', page).group(1)
    post_form(
        demo_platform.client,
        "/staff/scribes",
        f"/staff/scribes/{scribe_id}/mark",
        {"satisfactory": "yes"},
    )
    assert "Scribe marked" in flash(demo_platform.client.get("/staff/scribes").text)


def test_staff_open_checkoff_slots_and_book_one_for_a_group(demo_platform):
    sign_in(demo_platform.client, *STAFF)
    post_form(
        demo_platform.client,
        "/staff/checkoffs",
        "/staff/checkoffs",
        {
            "kind": "checkoff",
            "assignment": "A4",
            "starts_at": "2026-04-09T13:00",
            "minutes": "20",
            "count": "3",
            "capacity": "1",
            "location": "Cory 258",
        },
    )
    page = demo_platform.client.get("/staff/checkoffs").text
    assert "3 slot(s) opened" in flash(page)
    slot_id = re.findall(r'action="/checkoffs/(\d+)/sign-up"', page)[-1]
    group_id = re.search(r'<option value="(\d+)">Muon Mavericks', page).group(1)
    post_form(
        demo_platform.client,
        "/staff/checkoffs",
        f"/checkoffs/{slot_id}/sign-up",
        {"group_id": group_id},
    )
    assert "Slot booked" in flash(demo_platform.client.get("/staff/checkoffs").text)


def test_staff_approve_an_exception_and_it_shows_in_the_list(demo_platform):
    sign_in(demo_platform.client, *STAFF)
    page = demo_platform.client.get("/staff/slack").text
    group = re.search(r'<option value="(group:\d+)">KV Cachers', page).group(1)
    post_form(
        demo_platform.client,
        "/staff/slack",
        "/staff/exceptions",
        {
            "subject": group,
            "assignment": "A3",
            "new_deadline": "2026-03-13T23:59",
            "reason": "node-4 disk failure",
        },
    )
    page = demo_platform.client.get("/staff/slack").text
    assert "Exception approved" in flash(page) and "node-4 disk failure" in page


def test_an_exception_that_shortens_a_deadline_asks_for_confirmation(demo_platform):
    """Issue 13: A4 → Mar 1 was approved without a word."""
    sign_in(demo_platform.client, *STAFF)
    page = demo_platform.client.get("/staff/slack").text
    group = re.search(r'<option value="(group:\d+)">KV Cachers', page).group(1)
    form = {
        "subject": group,
        "assignment": "A4",
        "new_deadline": "2026-03-01T23:59",
        "reason": "typo in the date",
    }
    post_form(demo_platform.client, "/staff/slack", "/staff/exceptions", form)
    page = demo_platform.client.get("/staff/slack").text
    assert html.unescape(flash(page)).startswith(
        "this moves A4's deadline earlier, from Tue Apr 7, 11:59 PM"
    )
    assert 'value="typo in the date"' in page  # what staff typed is still there
    post_form(demo_platform.client, "/staff/slack", "/staff/exceptions", {**form, "shorten": "yes"})
    assert "Exception approved" in flash(demo_platform.client.get("/staff/slack").text)


def test_staff_reverse_a_slack_day_for_the_whole_group(demo_platform):
    sign_in(demo_platform.client, *STAFF)
    page = demo_platform.client.get("/staff/slack").text
    use_id = re.search(r'action="/staff/slack/(\d+)/reverse"', page).group(1)
    post_form(
        demo_platform.client,
        "/staff/slack",
        f"/staff/slack/{use_id}/reverse",
        {"reason": "charged in error"},
    )
    page = demo_platform.client.get("/staff/slack").text
    # one click on one student's row no longer reverses five: it asks, naming them
    assert "gives it back to all 5 members" in flash(page)
    assert 'value="charged in error"' in page and page.count("charged in error") == 1
    post_form(
        demo_platform.client,
        "/staff/slack",
        f"/staff/slack/{use_id}/reverse",
        {"reason": "charged in error", "whole_group": "yes"},
    )
    page = demo_platform.client.get("/staff/slack").text
    assert "Slack day reversed for 5 student(s)" in flash(page)
    assert page.count("charged in error") == 5


def test_the_grade_book_exports_as_csv_with_each_components_status(demo_platform):
    sign_in(demo_platform.client, *STAFF)
    answer = demo_platform.client.get("/staff/grades.csv")
    header, *rows = answer.text.strip().splitlines()
    assert "scribing.status" in header.split(",") and "standing" in header.split(",")
    assert all(",pending," in row for row in rows)  # nobody's scribing is graded on Mar 5
    assert len(rows) == 40
