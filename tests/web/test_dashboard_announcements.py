"""Issue 5: "announcements that appear on every dashboard" — staff announce on the Q&A page,
and the announcement (title, excerpt, link to its thread) is on a student's dashboard and on
the staff overview, newest first."""

from __future__ import annotations

import re

from tests.web.conftest import post_form, sign_in


def _announce(platform, staff, title: str, body: str) -> None:
    client = platform.new_client()
    sign_in(client, *staff)
    answer = post_form(client, "/qa", "/qa/announce", {"title": title, "body": body})
    assert answer.status_code == 303, answer.text


def test_an_announcement_posted_by_staff_appears_on_a_students_dashboard(platform, accounts):
    _announce(platform, accounts["staff"], "A3 released", "Start early: the nodes fill up.")
    sign_in(platform.client, *accounts["student"])
    page = platform.client.get("/").text
    assert "A3 released" in page
    assert "Start early: the nodes fill up." in page
    assert re.search(r'href="/qa/\d+"><strong>A3 released', page)


def test_the_dashboards_show_the_newest_announcement_first(platform, accounts):
    _announce(platform, accounts["staff"], "Office hours moved", "Room 310.")
    platform.set_clock("2026-03-05T11:00")
    _announce(platform, accounts["staff"], "Node 3 back up", "Reservations reopen.")
    sign_in(platform.client, *accounts["staff"])
    page = platform.client.get("/staff").text
    assert page.index("Node 3 back up") < page.index("Office hours moved")
