"""Q&A at Ed's level in a real browser (issue 13): a student posts and lands on the thread,
edits it, a classmate's answer makes it unread ("new") on the board, the asker marks it
resolved, search finds it by a stemmed word, the answerer deletes their answer, and staff
read the earlier versions on the thread page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.web.conftest import add_people, password_of

pytestmark = pytest.mark.browser

WHO = {
    "ada": ("Ada Board", "ada.board@berkeley.example", "student"),
    "bob": ("Bob Board", "bob.board@berkeley.example", "student"),
    "tess": ("Tess Board", "tess.board@berkeley.example", "staff"),
}


def sign_in_as(page, server, person: tuple[str, str, str]) -> None:
    name, email, _ = person
    page.goto(f"{server.url}/sign-in")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password_of(name))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def test_a_question_is_edited_answered_read_resolved_and_its_history_kept(live_server, new_page):
    platform = live_server.platform
    platform.set_clock("2026-02-11T10:00")
    add_people(platform.engine, platform.clock, WHO)

    ada = new_page()
    sign_in_as(ada, live_server, WHO["ada"])
    ada.goto(f"{live_server.url}/qa")
    ada.locator("#ask-category").select_option("A2")
    ada.get_by_label("Title").fill("Validation losses flatten after warmup")
    ada.get_by_label("Question (Markdown)").fill("Loss stays at 4.1 from step 2000.")
    ada.get_by_role("button", name="Post question").click()
    expect(
        ada.get_by_role("heading", name="Validation losses flatten after warmup")
    ).to_be_visible()
    thread_url = ada.url
    assert re.search(r"/qa/\d+$", thread_url)

    ada.get_by_text("Edit or delete this question").click()
    ada.get_by_label("New text (Markdown)").fill("Loss stays at 4.1 from step 2000 with lr 3e-4.")
    ada.get_by_role("button", name="Save changes").click()
    expect(ada.get_by_role("status")).to_contain_text("Question updated")
    expect(ada.locator("article").first).to_contain_text("lr 3e-4")
    expect(ada.get_by_text("edited", exact=True)).to_be_visible()

    bob = new_page()
    sign_in_as(bob, live_server, WHO["bob"])
    bob.goto(f"{live_server.url}/qa?show=unread")
    row = bob.get_by_role("row", name=re.compile("Validation losses"))
    expect(row).to_contain_text("new")
    row.get_by_role("link").click()
    bob.get_by_label("Answer (Markdown)").fill("Try a cosine schedule.")
    bob.get_by_role("button", name="Post answer").click()
    expect(bob.get_by_role("status")).to_contain_text("Answer posted")
    expect(bob.get_by_role("button", name="Unfollow")).to_be_visible()  # answering follows

    # Ada's board marks her thread new again; opening it clears the marker
    ada.goto(f"{live_server.url}/qa")
    expect(ada.get_by_role("row", name=re.compile("Validation losses"))).to_contain_text("new")
    ada.goto(thread_url)
    ada.get_by_role("button", name="Mark resolved").click()
    expect(ada.locator("#resolved")).to_be_visible()
    ada.goto(f"{live_server.url}/qa?show=resolved&q=flattening")  # stemmed full-text search
    row = ada.get_by_role("row", name=re.compile("Validation losses"))
    expect(row).to_contain_text("resolved")
    expect(row).not_to_contain_text("new")

    bob.goto(thread_url)
    bob.get_by_text("Edit or delete this answer").click()
    bob.get_by_role("button", name="Delete this answer").click()
    expect(bob.get_by_role("status")).to_contain_text("Answer deleted")
    expect(bob.get_by_role("heading", name="Answers (0)")).to_be_visible()

    tess = new_page()
    sign_in_as(tess, live_server, WHO["tess"])
    tess.goto(thread_url)
    history = tess.get_by_role("region", name="Edit history (staff only)")
    expect(history).to_contain_text("Loss stays at 4.1 from step 2000.")
    expect(history).to_contain_text("Try a cosine schedule.")
    expect(tess.get_by_text("deleted (staff only see it)")).to_be_visible()
    live_server.screenshot(tess, "qa-edit-history")
