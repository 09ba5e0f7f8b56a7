"""Issue 4, peer review: "see the assigned report, submit a structured review" — the page's
form stores the five technical-quality scores and the written parts; a refused form keeps
what was typed and names the missing field."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from scalable_ai.course.db import unit_of_work
from scalable_ai.course.demo import DEMO_CREDENTIALS
from scalable_ai.course.service import activities
from scalable_ai.course.tables import PeerReview
from tests.web.conftest import STAFF_TOOL, csrf_of, sign_in

STUDENT = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "student")
STAFF = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "staff")
AFTER_DRAFT = "2026-04-28T10:00"
REVIEW = {
    "clarity_of_hypothesis": "4",
    "technical_depth": "3",
    "correctness": "5",
    "experimental_rigor": "2",
    "artifact_quality": "4",
    "strengths": "Clear hypothesis with a success metric.",
    "weaknesses": "A single seed per run.",
    "suggestions": "Report the spread over three seeds.",
}


@pytest.fixture
def paired(demo_platform):
    """The demo course on Apr 28, with the peer reviews dealt; signed in as a student."""
    demo_platform.set_clock(AFTER_DRAFT)
    with unit_of_work(demo_platform.engine) as session:
        activities.assign_peer_reviews(session, STAFF_TOOL, seed=1, clock=demo_platform.clock)
    sign_in(demo_platform.client, *STUDENT)
    return demo_platform


def _form_action(page: str) -> str:
    match = re.search(r'<form method="post" action="(/peer-review/\d+)"', page)
    assert match, "the peer-review page has no review form"
    return match.group(1)


def test_a_group_submits_its_structured_review_on_the_peer_review_page(paired):
    page = paired.client.get("/peer-review").text
    assert "Clarity of hypothesis" in page and "Experimental rigor" in page
    answer = paired.client.post(_form_action(page), data={**REVIEW, "csrf_token": csrf_of(page)})
    assert answer.status_code == 303
    after = paired.client.get("/peer-review").text
    assert "Review saved" in after and "Save changes" in after
    assert "Report the spread over three seeds." in after
    with paired.engine.connect() as connection:
        stored = connection.execute(select(PeerReview.correctness, PeerReview.weaknesses)).one()
    assert tuple(stored) == (5, "A single seed per run.")


def test_a_review_missing_a_part_is_refused_naming_it_and_keeps_what_was_typed(paired):
    page = paired.client.get("/peer-review").text
    answer = paired.client.post(
        _form_action(page), data={**REVIEW, "weaknesses": " ", "csrf_token": csrf_of(page)}
    )
    assert answer.status_code == 400
    assert "Weaknesses is required" in answer.text
    assert "Clear hypothesis with a success metric." in answer.text


def test_staff_read_every_review_on_the_peer_review_page(paired):
    page = paired.client.get("/peer-review").text
    paired.client.post(_form_action(page), data={**REVIEW, "csrf_token": csrf_of(page)})
    staff = paired.new_client()
    sign_in(staff, *STAFF)
    seen = staff.get("/peer-review").text
    assert "Every review (1 of" in seen
    assert "Clear hypothesis with a success metric." in seen


def test_after_the_deadline_the_review_is_shown_and_no_longer_editable(paired):
    page = paired.client.get("/peer-review").text
    paired.client.post(_form_action(page), data={**REVIEW, "csrf_token": csrf_of(page)})
    paired.set_clock("2026-05-02T09:00")
    closed = paired.client.get("/peer-review").text
    assert '<form method="post" action="/peer-review/' not in closed
    assert "Report the spread over three seeds." in closed
