"""The demo course in a real browser: the main pages render for a student and for staff, the
pinned course clock is announced, the pages work from the keyboard and on a phone-width
screen, and a run from the run registry shows its metrics and plots. Screenshots of each
page go to ``test-artifacts/screenshots/``."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from scalable_ai.course.db import unit_of_work
from scalable_ai.course.demo import DEMO_CREDENTIALS
from scalable_ai.course.service.actors import current_group_id
from scalable_ai.course.service.people import find_by_email
from scalable_ai.course.tables import Group
from scalable_ai.runs import open_run

pytestmark = pytest.mark.browser

STAFF = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "staff")
STUDENT = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "student")


def sign_in(page, server, email: str, password: str) -> None:
    page.goto(f"{server.url}/sign-in")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_label("Password").press("Enter")
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_student_pages_render_with_the_pinned_clock_banner(live_demo, new_page):
    page = new_page()
    sign_in(page, live_demo, *STUDENT)
    expect(page.get_by_role("note")).to_contain_text("Course clock pinned")
    expect(page.get_by_role("heading", name="Next deadlines")).to_be_visible()
    expect(page.locator("#node-ip")).to_have_text("203.0.113.11")
    live_demo.screenshot(page, "demo-dashboard")
    for path, name, heading in (
        ("/schedule", "demo-schedule", "Schedule"),
        ("/assignments/A3", "demo-assignment", "A3: Post-Training"),
        ("/nodes", "demo-nodes", "Nodes"),
        ("/checkoffs", "demo-checkoffs", "Checkoff slots"),
    ):
        page.goto(live_demo.url + path)
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        live_demo.screenshot(page, name)


def test_the_skip_link_comes_first_from_the_keyboard(live_demo, new_page):
    page = new_page()
    sign_in(page, live_demo, *STUDENT)
    page.keyboard.press("Tab")
    expect(page.locator(":focus")).to_have_text("Skip to main content")
    page.keyboard.press("Enter")
    expect(page.locator(":focus")).to_have_id("main")


def test_the_dashboard_fits_a_phone_width_screen(live_demo, new_page):
    page = new_page(width=390, height=844)
    sign_in(page, live_demo, *STUDENT)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    live_demo.screenshot(page, "demo-dashboard-phone")


def test_staff_pages_render(live_demo, new_page):
    page = new_page()
    sign_in(page, live_demo, *STAFF)
    for path, name, heading in (
        ("/staff/nodes", "staff-node-board", "Node allocation board"),
        ("/staff/grades", "staff-grades-demo", "Grade book"),
        ("/staff/roster", "staff-roster", "Roster"),
        ("/staff/slack", "staff-slack", "Slack days"),
        ("/staff/scribes", "staff-scribes", "Scribes"),
    ):
        page.goto(live_demo.url + path)
        expect(page.get_by_role("heading", level=1)).to_contain_text(heading)
        live_demo.screenshot(page, name)


def test_a_lab_run_shows_its_config_metrics_and_plot(live_demo, new_page):
    runs_dir = live_demo.platform.settings.runs_dir
    with unit_of_work(live_demo.platform.engine) as session:
        student = find_by_email(session, STUDENT[0])
        group = session.get(Group, current_group_id(session, student.id)).name
    with open_run(
        "train.pretrain",
        config={"model": {"d_model": 64}, "lr": 3e-4},
        seed=7,
        runs_dir=runs_dir,
        group=group,  # a student sees their own group's runs (SAI_GROUP on the node)
    ) as run:
        for step in range(10):
            run.log(step, loss=4.0 / (step + 1))
        run.summary(final_loss=0.4)
    page = new_page()
    sign_in(page, live_demo, *STUDENT)
    page.goto(f"{live_demo.url}/runs")
    page.get_by_role("link", name=run.id).click()
    expect(page.get_by_role("row", name="model.d_model")).to_contain_text("64")
    expect(page.get_by_role("img", name=f"loss against step for run {run.id}")).to_be_visible()
    # Polled from here: wait_for_function evaluates a string in the page, which the
    # platform's Content-Security-Policy (no 'unsafe-eval') rightly refuses.
    plot = page.locator("img.plot").first
    deadline = time.monotonic() + 10
    while plot.evaluate("img => img.naturalWidth") == 0:
        assert time.monotonic() < deadline, "the plot did not load within 10 s"
        page.wait_for_timeout(50)
    live_demo.screenshot(page, "lab-run")
