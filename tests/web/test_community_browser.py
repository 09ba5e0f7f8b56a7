"""The rest of the course's life in a real browser (issue 5): a student answers the onboarding
questionnaire, posts a question and gets a staff-endorsed answer, files an infrastructure
ticket, hands in scribe notes that staff return with feedback, and checks in to a lecture
with the code staff show in the room."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from scalable_ai.course.community.questions import DEFAULT_QUESTIONS
from scalable_ai.course.community.service import questionnaire as onboarding
from scalable_ai.course.db import unit_of_work
from scalable_ai.course.service.course import lecture_by_key
from scalable_ai.course.tables import ScribeAssignment
from tests.web.conftest import STAFF_TOOL, add_people, go_to, password_of

pytestmark = pytest.mark.browser


def people(tag: str) -> dict[str, tuple[str, str, str]]:
    """A student and a staff member unique to one test (the server is shared per module)."""
    return {
        "student": (f"Ada {tag.title()}", f"ada.{tag}@berkeley.example", "student"),
        "staff": (f"Tess {tag.title()}", f"tess.{tag}@berkeley.example", "staff"),
    }


def sign_in_as(page, server, person: tuple[str, str, str]) -> None:
    name, email, _ = person
    page.goto(f"{server.url}/sign-in")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password_of(name))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_a_student_answers_the_onboarding_questionnaire(live_server, new_page):
    platform = live_server.platform
    platform.set_clock("2026-01-21T10:00")  # released in the first lecture (Jan 20)
    who = people("questionnaire")
    add_people(platform.engine, platform.clock, who)
    with unit_of_work(platform.engine) as session:
        if not onboarding.questions(session):
            onboarding.install_default_questions(session, STAFF_TOOL, clock=platform.clock)
        onboarding.release(session, STAFF_TOOL, clock=platform.clock)

    page = new_page()
    sign_in_as(page, live_server, who["student"])
    go_to(page, "Questionnaire")
    page.get_by_label("Your background").fill("EECS MEng; CS 162 and CS 182")
    page.get_by_label(DEFAULT_QUESTIONS[1].options[2]).check()
    page.get_by_label("Classmates you would like").fill("bob@berkeley.example")
    page.get_by_label(DEFAULT_QUESTIONS[3].options[0]).check()
    page.get_by_role("button", name="Save answers").click()
    expect(page.get_by_role("status")).to_contain_text("your answers are saved")
    expect(page.get_by_label(DEFAULT_QUESTIONS[1].options[2])).to_be_checked()
    live_server.screenshot(page, "community-questionnaire")

    staff = new_page()
    sign_in_as(staff, live_server, who["staff"])
    staff.goto(f"{live_server.url}/questionnaire")
    expect(staff.get_by_role("row", name=who["student"][0])).to_contain_text("bob@berkeley")


def test_a_question_gets_a_staff_endorsed_answer(live_server, new_page):
    platform = live_server.platform
    platform.set_clock("2026-02-04T10:00")
    who = people("qa")
    add_people(platform.engine, platform.clock, who)

    student = new_page()
    sign_in_as(student, live_server, who["student"])
    go_to(student, "Q&A")
    student.locator("#ask-category").select_option("A1")
    student.get_by_label("Title").fill("FSDP2 peak memory higher than DDP?")
    student.get_by_label("Question (Markdown)").fill("At batch 8 with `fully_shard` per block.")
    student.get_by_label("Anonymous to classmates").check()
    student.get_by_role("button", name="Post question").click()
    expect(student.get_by_role("status")).to_contain_text("Question posted")
    # posting lands on the new thread, not back on the list (issue 13)
    expect(
        student.get_by_role("heading", name="FSDP2 peak memory higher than DDP?")
    ).to_be_visible()
    thread_url = student.url
    assert re.search(r"/qa/\d+$", thread_url)

    staff = new_page()
    sign_in_as(staff, live_server, who["staff"])
    staff.goto(thread_url)
    expect(staff.get_by_text("anonymous to classmates").first).to_be_visible()
    staff.get_by_label("Answer (Markdown)").fill("Shard the **root** module too.")
    staff.get_by_role("button", name="Post answer").click()
    staff.get_by_role("button", name="Endorse this answer").click()
    expect(staff.get_by_role("status")).to_contain_text("Answer endorsed")

    student.goto(thread_url)
    expect(student.get_by_text("endorsed by staff")).to_be_visible()
    expect(student.locator(".answer strong")).to_have_text("root")
    live_server.screenshot(student, "community-endorsed-answer")


def test_a_student_files_an_infrastructure_ticket(live_server, new_page):
    platform = live_server.platform
    platform.set_clock("2026-03-05T10:00")
    who = people("ticket")
    add_people(platform.engine, platform.clock, who)

    page = new_page()
    sign_in_as(page, live_server, who["student"])
    page.goto(f"{live_server.url}/qa")
    page.get_by_role("link", name="File an infrastructure ticket").click()
    page.get_by_label("Title").fill("NCCL timeout in all-reduce")
    page.get_by_label("Node", exact=True).select_option(index=2)
    page.get_by_label("When it happened").fill("2026-03-05T09:05")
    page.get_by_label("Job IDs").fill("torchrun rdzv a3-dpo-4")
    page.get_by_label("Logs").fill("NCCL WARN Timeout waiting for collective ALLREDUCE")
    page.get_by_label("Short repro").fill("torchrun --nproc-per-node 8 post/dpo.py")
    page.get_by_role("button", name="File ticket").click()
    expect(page.get_by_role("status")).to_contain_text("filed")
    expect(page.locator("tr", has_text="NCCL timeout")).to_have_count(1)
    live_server.screenshot(page, "community-ticket")

    staff = new_page()
    sign_in_as(staff, live_server, who["staff"])
    staff.goto(f"{live_server.url}/qa/ticket")
    staff.get_by_role("link", name="NCCL timeout in all-reduce").click()
    staff.get_by_role("button", name="Mark acknowledged").click()
    expect(staff.locator("#ticket-status")).to_have_text("acknowledged")


def test_a_scribe_hands_in_notes_that_staff_return_with_feedback(live_server, new_page):
    platform = live_server.platform
    platform.set_clock("2026-02-08T20:00")
    who = people("scribe")
    ids = add_people(platform.engine, platform.clock, who)
    with unit_of_work(platform.engine) as session:
        session.add(
            ScribeAssignment(
                lecture_id=lecture_by_key(session, "L5").id,
                person_id=ids["student"],
                assigned_at=platform.clock.now(),
            )
        )

    page = new_page()
    sign_in_as(page, live_server, who["student"])
    go_to(page, "Lecture notes")
    page.get_by_role("link", name="L5. NeMo AutoModel Guest Lecture").click()
    page.get_by_label("Notes in Markdown").fill("# L5\n\nAutoModel wraps FSDP2 and TP plans.")
    page.get_by_label("Sources and AI assistance used").fill("Drafted with an LLM, edited.")
    page.get_by_role("button", name="Hand in scribe notes").click()
    expect(page.get_by_role("status")).to_contain_text("version 1 handed in")

    staff = new_page()
    sign_in_as(staff, live_server, who["staff"])
    go_to(staff, "Scribe notes")
    card = staff.locator("section", has_text=who["student"][0])
    card.get_by_label("Feedback").fill("Add the memory math for the TP plan.")
    card.get_by_role("button", name="Return with feedback").click()
    expect(staff.get_by_role("status")).to_contain_text("returned")

    page.reload()
    expect(page.get_by_text("Add the memory math for the TP plan.")).to_be_visible()
    live_server.screenshot(page, "community-scribe-notes")


def test_a_student_checks_in_to_a_lecture_with_its_code(live_server, new_page):
    platform = live_server.platform
    platform.set_clock("2026-03-05T09:40")  # during L14
    who = people("checkin")
    add_people(platform.engine, platform.clock, who)

    staff = new_page()
    sign_in_as(staff, live_server, who["staff"])
    go_to(staff, "Attendance")
    staff.get_by_label("Lecture").select_option("L14")
    staff.get_by_role("button", name="Show").click()
    staff.get_by_role("button", name="Open check-in").click()
    code = staff.locator("#check-in-code").inner_text()

    page = new_page(width=390, height=844)  # a phone in the lecture room
    sign_in_as(page, live_server, who["student"])
    page.goto(f"{live_server.url}/check-in")
    page.get_by_label("Lecture").select_option("L14")
    page.get_by_label("Code").fill(code.lower())
    page.get_by_role("button", name="Check in").click()
    expect(page.get_by_role("status")).to_contain_text("Checked in to L14")
    page.get_by_role("link", name="Your participation so far").click()
    expect(page.locator("#attended")).to_have_text("1")
    live_server.screenshot(page, "community-check-in")
