"""The hand-in and group pages report the syllabus's rules as the service applies them:
"Slack days extend the deadline by 24 hours. No other late work is accepted without an
approved exception"; "Groups of 4–6"; students form groups themselves until Jan 29."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from scalable_ai.course.demo import DEMO_CREDENTIALS
from scalable_ai.course.tables import Submission
from tests.web.conftest import BEFORE_FORMATION, post_form, sign_in

STUDENT = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "student")
NONE_USED = {
    "integrity_external_code": "none",
    "integrity_sources": "none",
    "integrity_ai_assistance": "none",
}


def submissions(platform) -> int:
    with platform.engine.connect() as connection:
        return connection.scalar(select(func.count()).select_from(Submission))


def hand_in(platform, data: dict) -> str:
    post_form(platform.client, "/assignments/A3", "/assignments/A3/submit", data)
    return platform.client.get("/assignments/A3").text


def test_a_hand_in_on_time_shows_the_deadline_that_applied(demo_platform):
    sign_in(demo_platform.client, *STUDENT)
    page = hand_in(demo_platform, {"link": "https://github.com/tt/a3/commit/1", **NONE_USED})
    assert "Submitted A3 (on time)" in page
    assert "Tue Mar 10, 11:59 PM" in page.split('class="applied-deadline"')[1]


def test_a_late_hand_in_without_confirming_a_slack_day_is_not_stored(demo_platform):
    demo_platform.set_clock("2026-03-11T08:00")
    sign_in(demo_platform.client, *STUDENT)
    before = submissions(demo_platform)
    page = hand_in(demo_platform, {"link": "https://github.com/tt/a3/commit/2", **NONE_USED})
    assert "confirm spending a slack day" in page
    refusal = re.search(r'class="flash flash-error" role="alert">([^<]*)', page)
    assert refusal and not refusal.group(1).startswith("confirm_slack_day")  # words, no field
    assert submissions(demo_platform) == before


def test_more_than_a_day_late_is_refused_even_with_a_slack_day(demo_platform):
    demo_platform.set_clock("2026-03-12T08:00")
    sign_in(demo_platform.client, *STUDENT)
    before = submissions(demo_platform)
    page = hand_in(
        demo_platform,
        {"link": "https://github.com/tt/a3/commit/3", "confirm_slack_day": "1", **NONE_USED},
    )
    assert "more than 24 hours late" in page
    assert submissions(demo_platform) == before


def test_a_hand_in_without_the_integrity_statement_is_refused_naming_the_field(demo_platform):
    sign_in(demo_platform.client, *STUDENT)
    before = submissions(demo_platform)
    page = hand_in(demo_platform, {"link": "https://github.com/tt/a3/commit/4"})
    assert "integrity" in page and "cite what you used" in page
    assert submissions(demo_platform) == before


def test_a_hand_in_needs_a_file_or_a_link(demo_platform):
    sign_in(demo_platform.client, *STUDENT)
    assert "hand in a file or a link" in hand_in(demo_platform, NONE_USED)


def test_students_cannot_leave_a_group_after_the_formation_deadline(demo_platform):
    sign_in(demo_platform.client, *STUDENT)
    group_page = demo_platform.client.get("/group").text
    action = group_page.split('action="/group/')[2].split('"')[0]  # invite, then leave
    assert action.endswith("/leave")
    post_form(demo_platform.client, "/group", f"/group/{action}")
    page = demo_platform.client.get("/group").text
    assert "Tensor Titans" in page and "formation" in page.split('role="alert">')[1]


def test_a_student_starts_a_group_before_the_deadline(platform, accounts):
    platform.set_clock(BEFORE_FORMATION)
    sign_in(platform.client, *accounts["student"])
    post_form(platform.client, "/group", "/group/create", {"name": "Sparse Sparrows"})
    page = platform.client.get("/group").text
    assert "Group Sparse Sparrows started" in page and "not confirmed yet" in page


def test_a_groups_exception_shows_as_the_deadline_that_applies(demo_platform):
    """The demo approved Speculative Decoders (node-8 outage) an A2 deadline of Feb 27."""
    from scalable_ai.course.db import unit_of_work
    from scalable_ai.course.service.people import find_by_email, set_password_hash
    from scalable_ai.course.web.security import hash_password
    from tests.web.conftest import STAFF_TOOL

    with unit_of_work(demo_platform.engine) as session:
        member = find_by_email(session, "jeff.dean@example.edu")
        set_password_hash(
            session,
            STAFF_TOOL,
            member.id,
            hash_password("jeff-password"),
            clock=demo_platform.clock,
        )
    sign_in(demo_platform.client, "jeff.dean@example.edu", "jeff-password")
    listing = demo_platform.client.get("/assignments").text
    assert re.search(r"for you: <strong><time [^>]*>Fri Feb 27, 11:59 PM</time></strong>", listing)
    page = demo_platform.client.get("/assignments/A2").text
    assert "node-8 outage" in page.split('id="your-deadline"')[1].split("</dd>")[0]


def test_the_assignment_page_lists_the_newest_hand_ins_and_links_every_one(demo_platform):
    """A group that hands in often must not make every view of the page longer (and slower):
    the newest ten show, newest first, with a link to all of them."""
    from scalable_ai.course.web.views.assignments import HAND_INS_SHOWN

    sign_in(demo_platform.client, *STUDENT)
    total = HAND_INS_SHOWN + 2
    for n in range(total):
        post_form(
            demo_platform.client,
            "/assignments/A3",
            "/assignments/A3/submit",
            {"link": f"https://github.com/tt/a3/commit/{n}", **NONE_USED},
        )
    page = demo_platform.client.get("/assignments/A3").text
    shown = re.findall(r"github\.com/tt/a3/commit/(\d+)", page.split('id="h-handed"')[1])
    assert [int(n) for n in dict.fromkeys(shown)] == list(range(total - 1, 1, -1))
    assert 'href="/assignments/A3?every=1#h-handed"' in page
    every = demo_platform.client.get("/assignments/A3?every=1").text
    shown = re.findall(r"github\.com/tt/a3/commit/(\d+)", every.split('id="h-handed"')[1])
    assert [int(n) for n in dict.fromkeys(shown)] == list(range(total - 1, -1, -1))
    assert "Show the newest only" in every
    refused = demo_platform.client.get("/assignments/A3?every=maybe")
    assert refused.status_code == 422 and "every" in refused.text
