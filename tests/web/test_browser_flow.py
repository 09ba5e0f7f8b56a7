"""The course platform in a real browser (Debian's chromium through Playwright), the way a
group lives through the semester (issue 4): a student signs in, forms a group, requests a
multi-node reservation that another group accepts, downloads the hostfile, hands in late
with a slack day and sees the balance drop; staff see the grade book's failing flag."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from scalable_ai.course.db import unit_of_work
from scalable_ai.course.service import groups as group_service
from scalable_ai.course.service.grades import record_score
from tests.web.conftest import BEFORE_FORMATION, STAFF_TOOL, add_people, go_to, password_of

pytestmark = pytest.mark.browser

TEAM = {
    "ada": ("Ada Lovelace", "ada@berkeley.example", "student"),
    "alan": ("Alan Turing", "alan@berkeley.example", "student"),
    "grace": ("Grace Hopper", "grace@berkeley.example", "student"),
    "edsger": ("Edsger Dijkstra", "edsger@berkeley.example", "student"),
}
PARTNERS = {
    "barbara": ("Barbara Liskov", "barbara@berkeley.example", "student"),
    "ken": ("Ken Thompson", "ken@berkeley.example", "student"),
    "leslie": ("Leslie Lamport", "leslie@berkeley.example", "student"),
    "frances": ("Frances Allen", "frances@berkeley.example", "student"),
}
STAFF = {"tess": ("Tess Assistant", "tess@berkeley.example", "staff")}


def sign_in_as(page, server, person: tuple[str, str, str]) -> None:
    name, email, _ = person
    page.goto(f"{server.url}/sign-in")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password_of(name))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_a_group_forms_shares_nodes_and_hands_in_late_with_a_slack_day(live_server, new_page):
    platform = live_server.platform
    platform.set_clock(BEFORE_FORMATION)
    ids = add_people(platform.engine, platform.clock, {**TEAM, **PARTNERS, **STAFF})
    with unit_of_work(platform.engine) as session:  # the partner group, formed by staff
        partners = group_service.propose_group(
            session,
            STAFF_TOOL,
            name="Pipeline Pirates",
            member_ids=[ids[k] for k in PARTNERS],
            clock=platform.clock,
        )
        session.flush()
        group_service.confirm_group(session, STAFF_TOOL, partners.id, clock=platform.clock)

    # A student signs in and forms a group before the formation deadline.
    ada = new_page()
    sign_in_as(ada, live_server, TEAM["ada"])
    go_to(ada, "Group")
    ada.get_by_label("Group name").fill("Tensor Titans")
    ada.get_by_role("button", name="Start group").click()
    expect(ada.get_by_role("status")).to_contain_text("Group Tensor Titans started")
    for key in ("alan", "grace", "edsger"):
        ada.get_by_label("Invite a classmate").fill(TEAM[key][1])
        ada.get_by_role("button", name="Send invitation").click()
        expect(ada.get_by_role("status")).to_contain_text(f"Invitation sent to {TEAM[key][1]}")
    live_server.screenshot(ada, "group")
    for key in ("alan", "grace", "edsger"):  # each teammate accepts in their own browser
        mate = new_page()
        sign_in_as(mate, live_server, TEAM[key])
        mate.goto(f"{live_server.url}/group")
        mate.get_by_role("button", name="Accept and join Tensor Titans").click()
        expect(mate.get_by_role("status")).to_contain_text("You joined the group")

    # Staff confirm the group, which gives it a node.
    tess = new_page()
    sign_in_as(tess, live_server, STAFF["tess"])
    tess.goto(f"{live_server.url}/staff/groups")
    tess.get_by_role("button", name="Confirm and assign a node").click()
    expect(tess.get_by_role("status")).to_contain_text("Tensor Titans confirmed on node-2")

    # Mid-semester: Ada asks to join Pipeline Pirates' node for an afternoon.
    platform.set_clock("2026-03-05T10:00")
    sign_in_as(ada, live_server, TEAM["ada"])  # sessions last 14 days of course time
    ada.goto(f"{live_server.url}/nodes")
    ada.get_by_label(re.compile("Pipeline Pirates")).check()
    ada.get_by_label("Starts (Berkeley time)").fill("2026-03-05T12:00")
    ada.get_by_label("Ends (Berkeley time)").fill("2026-03-05T16:00")
    ada.get_by_label("Purpose").fill("2-node FSDP run for the scaling plot")
    ada.get_by_role("button", name="Request window").click()
    expect(ada.get_by_role("status")).to_contain_text("Reservation requested")
    expect(ada.locator(".reservation")).to_contain_text("waiting for consent")

    # The other group accepts.
    barbara = new_page()
    sign_in_as(barbara, live_server, PARTNERS["barbara"])
    barbara.goto(f"{live_server.url}/nodes")
    barbara.get_by_role("button", name="Consent for Pipeline Pirates").click()
    expect(barbara.get_by_role("status")).to_contain_text("consented")

    # Inside the window the hostfile downloads: one line per node, 8 slots each.
    platform.set_clock("2026-03-05T12:30")
    ada.goto(f"{live_server.url}/nodes")
    expect(ada.locator(".reservation")).to_contain_text("active now")
    live_server.screenshot(ada, "nodes")
    with ada.expect_download() as download:
        ada.get_by_role("link", name="Download hostfile").click()
    hostfile = Path(download.value.path()).read_text().split("\n")
    assert [line.split()[1] for line in hostfile if line] == ["slots=8", "slots=8"]

    # A3 was due Tue Mar 10, 23:59; Wednesday morning Ada hands in with a slack day.
    platform.set_clock("2026-03-11T09:00")
    ada.goto(f"{live_server.url}/")
    expect(ada.locator("#slack-left")).to_have_text("3")
    ada.goto(f"{live_server.url}/assignments/A3")
    ada.get_by_label("Link (repository commit, report URL)").fill(
        "https://github.com/tensor-titans/a3/commit/4f2a9c1"
    )
    ada.get_by_label(re.compile("spend one of our group's slack days")).check()
    ada.get_by_role("button", name="Hand in").click()
    expect(ada.get_by_role("status")).to_contain_text("Submitted A3")
    expect(ada.locator(".applied-deadline").first).to_contain_text("Wed Mar 11, 11:59 PM")
    live_server.screenshot(ada, "assignment-late")
    ada.goto(f"{live_server.url}/")
    expect(ada.locator("#slack-left")).to_have_text("2")
    live_server.screenshot(ada, "dashboard")


def test_staff_see_the_grade_book_and_the_failing_component_flag(live_server, new_page):
    platform = live_server.platform
    ids = add_people(
        platform.engine,
        platform.clock,
        {
            "mary": ("Mary Somerville", "mary@berkeley.example", "student"),
            "tim": ("Tim Berners-Lee", "tim@berkeley.example", "student"),
            "sophie": ("Sophie Wilson", "sophie@berkeley.example", "staff"),
        },
    )
    with unit_of_work(platform.engine) as session:
        record_score(
            session,
            STAFF_TOOL,
            person_id=ids["mary"],
            item="scribing",
            points=20,
            max_points=100,
            clock=platform.clock,
        )
        record_score(
            session,
            STAFF_TOOL,
            person_id=ids["tim"],
            item="scribing",
            points=95,
            max_points=100,
            clock=platform.clock,
        )
    page = new_page()
    sign_in_as(page, live_server, ("Sophie Wilson", "sophie@berkeley.example", "staff"))
    go_to(page, "Grade book")
    mary = page.get_by_role("row", name=re.compile("Mary Somerville"))
    expect(mary.locator(".failing-flag")).to_have_text("failing")
    expect(mary.get_by_role("cell", name=re.compile(r"^20\.0"))).to_have_class(
        re.compile("status-unsatisfactory")
    )
    tim = page.get_by_role("row", name=re.compile("Tim Berners-Lee"))
    expect(tim.get_by_role("cell", name=re.compile(r"^95\.0"))).not_to_have_class(
        re.compile("unsatisfactory")
    )
    live_server.screenshot(page, "staff-grade-book")
