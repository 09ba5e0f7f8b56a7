"""The calendar subscription link, SSH keys, password change, and staff-made accounts
(issue 4: "an iCalendar subscribe link carrying an unguessable per-user token that the user
can revoke, as calendar apps poll it without signing in"; "staff-created accounts and bulk
roster import from CSV")."""

from __future__ import annotations

import re

from icalendar import Calendar

from scalable_ai.course.demo import DEMO_CREDENTIALS, demo_key
from tests.web.conftest import csrf_of, post_form, sign_in

STUDENT = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "student")
STAFF = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "staff")


def feed_link(page: str) -> str:
    match = re.search(r'value="https?://[^/"]+(/calendar/[^"]+\.ics)"', page)
    assert match, "no feed link on the page"
    return match.group(1)


def test_the_calendar_feed_works_without_signing_in_and_lists_the_lectures(demo_platform):
    sign_in(demo_platform.client, *STUDENT)
    link = feed_link(post_form(demo_platform.client, "/account", "/account/calendar").text)
    assert len(link.split("/")[-1].removesuffix(".ics")) >= 40  # 256 random bits
    calendar_app = demo_platform.new_client()
    answer = calendar_app.get(link)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/calendar")
    titles = [str(e.get("summary")) for e in Calendar.from_ical(answer.content).walk("VEVENT")]
    assert "L1. Course Overview and the Modern AI Stack" in titles
    assert any(t.startswith("A3 due") for t in titles)
    assert any(t.startswith("You scribe L") for t in titles)  # the owner's own entries


def test_a_revoked_calendar_link_stops_working(demo_platform):
    sign_in(demo_platform.client, *STUDENT)
    link = feed_link(post_form(demo_platform.client, "/account", "/account/calendar").text)
    post_form(demo_platform.client, "/account", "/account/calendar/revoke")
    assert demo_platform.new_client().get(link).status_code == 404


def test_a_new_calendar_link_replaces_the_old_one(demo_platform):
    sign_in(demo_platform.client, *STUDENT)
    first = feed_link(post_form(demo_platform.client, "/account", "/account/calendar").text)
    second = feed_link(post_form(demo_platform.client, "/account", "/account/calendar").text)
    assert demo_platform.new_client().get(first).status_code == 404
    assert demo_platform.new_client().get(second).status_code == 200


def test_a_student_registers_an_ssh_key_for_the_groups_node(demo_platform):
    sign_in(demo_platform.client, *STUDENT)
    key = demo_key("ada-second-laptop@example.edu")
    post_form(demo_platform.client, "/account", "/account/ssh-keys", {"public_key": key})
    keys = demo_platform.client.get("/nodes/1/authorized_keys").text
    assert key.split()[1] in keys


def test_a_malformed_ssh_key_is_refused_naming_the_field(demo_platform):
    sign_in(demo_platform.client, *STUDENT)
    post_form(
        demo_platform.client, "/account", "/account/ssh-keys", {"public_key": "ssh-rsa not-base64!"}
    )
    assert "public_key" in demo_platform.client.get("/account").text


def test_changing_the_password_needs_the_current_one(demo_platform):
    email, password = STUDENT
    sign_in(demo_platform.client, email, password)
    post_form(
        demo_platform.client,
        "/account",
        "/account/password",
        {
            "current_password": "wrong",
            "new_password": "a-new-password-1",
            "confirm_password": "a-new-password-1",
        },
    )
    assert "current_password" in demo_platform.client.get("/account").text
    post_form(
        demo_platform.client,
        "/account",
        "/account/password",
        {
            "current_password": password,
            "new_password": "a-new-password-1",
            "confirm_password": "a-new-password-1",
        },
    )
    sign_in(demo_platform.new_client(), email, "a-new-password-1")


def test_staff_import_a_roster_csv_and_the_new_accounts_can_sign_in(demo_platform):
    sign_in(demo_platform.client, *STAFF)
    roster = (
        "name,email,sid\nRosalind Franklin,rosalind@example.edu,3039990001\n"
        "Alan Kay,alan.kay@example.edu,3039990002\n"
    )
    page = post_form(
        demo_platform.client,
        "/staff/roster",
        "/staff/roster/import",
        files={"file": ("roster.csv", roster.encode(), "text/csv")},
    ).text
    assert "Imported 2 accounts" in page
    password = re.search(r"rosalind@example.edu</td><td><code>([^<]+)</code>", page).group(1)
    sign_in(demo_platform.new_client(), "rosalind@example.edu", password)


def test_a_roster_with_one_bad_row_imports_nothing(demo_platform):
    sign_in(demo_platform.client, *STAFF)
    roster = "name,email\nNew Person,new.person@example.edu\nDuplicate,ada.ng@example.edu\n"
    post_form(demo_platform.client, "/staff/roster", "/staff/roster/import", {"csv_text": roster})
    page = demo_platform.client.get("/staff/roster").text
    assert "nothing imported" in page and "line 3" in page
    assert "new.person@example.edu" not in page


def test_staff_create_one_account_with_a_chosen_password(demo_platform):
    sign_in(demo_platform.client, *STAFF)
    token = csrf_of(demo_platform.client.get("/staff/roster").text)
    demo_platform.client.post(
        "/staff/roster/add",
        data={
            "csrf_token": token,
            "name": "Joy Buolamwini",
            "email": "joy@example.edu",
            "role": "student",
            "password": "joy-password-9",
        },
    )
    sign_in(demo_platform.new_client(), "joy@example.edu", "joy-password-9")


def test_a_deactivated_account_cannot_sign_in_and_its_sessions_end(demo_platform):
    student = demo_platform.new_client()
    sign_in(student, *STUDENT)
    sign_in(demo_platform.client, *STAFF)
    roster = demo_platform.client.get("/staff/roster").text
    person_id = re.search(
        r'action="/staff/roster/(\d+)/active"[^<]*<input[^>]*>'
        r'<input type="hidden" name="active" value="no"><button[^>]*'
        r'aria-label="Deactivate Ada Ng"',
        roster,
    ).group(1)
    post_form(
        demo_platform.client, "/staff/roster", f"/staff/roster/{person_id}/active", {"active": "no"}
    )
    assert student.get("/").status_code == 303
    page = demo_platform.new_client()
    token = csrf_of(page.get("/sign-in").text)
    answer = page.post(
        "/sign-in", data={"email": STUDENT[0], "password": STUDENT[1], "csrf_token": token}
    )
    assert answer.status_code == 401


def test_an_unknown_address_gets_a_page_not_json(demo_platform):
    answer = demo_platform.client.get("/no/such/page")
    assert answer.status_code == 404 and "There is no page at this address" in answer.text
