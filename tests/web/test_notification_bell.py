"""The notification bell (issue 13): an announcement lights every student's bell with the
unread count, the bell's page lists it and opening it marks it read and goes to the thread,
and each person chooses e-mail for each, a daily digest or none, and mutes kinds."""

from __future__ import annotations

import re

from scalable_ai.course.db import unit_of_work
from scalable_ai.course.notify import events
from scalable_ai.course.tables import Person
from tests.web.conftest import post_form, sign_in


def bell(html: str) -> str:
    match = re.search(r'aria-label="Notifications: (\d+) unread"', html)
    assert match, "no bell on the page"
    return match.group(1)


def test_an_announcement_lights_the_bell_and_opening_it_reads_it(platform, accounts):
    staff = platform.client
    sign_in(staff, *accounts["staff"])
    answer = post_form(
        staff, "/qa", "/qa/announce", {"title": "A2 released", "body": "Go", "category": "A2"}
    )
    assert answer.status_code == 303
    post_form(staff, "/qa", "/sign-out")

    student = platform.client
    sign_in(student, *accounts["student"])
    home = student.get("/")
    assert bell(home.text) == "1"
    page = student.get("/notifications")
    assert "Announcement: A2 released" in page.text
    with unit_of_work(platform.engine) as session:
        ada = session.query(Person).filter_by(email=accounts["student"][0]).one()
        [told] = events.inbox(session, ada.id)
    opened = post_form(student, "/notifications", "/notifications/read", {"id": str(told.id)})
    assert opened.status_code == 303 and opened.headers["location"] == told.link
    assert bell(student.get("/").text) == "0"


def test_each_person_chooses_how_they_hear(platform, accounts):
    client = platform.client
    sign_in(client, *accounts["student"])
    saved = post_form(
        client,
        "/notifications",
        "/notifications/settings",
        {"email": "each", **{f"hear_{k}": "on" for k in events.KINDS if k != "announcement"}},
    )
    assert saved.status_code == 303
    with unit_of_work(platform.engine) as session:
        ada = session.query(Person).filter_by(email=accounts["student"][0]).one()
        chosen = events.settings_for(session, ada.id)
        assert (chosen.email, chosen.muted) == ("each", ["announcement"])
    refused = post_form(client, "/notifications", "/notifications/settings", {"email": "fax"})
    assert refused.status_code == 303
    assert "e-mail must be one of" in client.get("/notifications").text
