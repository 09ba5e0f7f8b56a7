"""Peer review, the staff side of the web UI: the staff nav's "Peer reviews" opens a page with
every group's reviews received (the peer score the grade book blends into technical quality)
and written, then every review in full."""

from __future__ import annotations

import re

import pytest

from scalable_ai.course.db import unit_of_work
from scalable_ai.course.demo import DEMO_CREDENTIALS
from scalable_ai.course.service import activities
from tests.web.conftest import STAFF_TOOL, csrf_of, sign_in

STUDENT = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "student")
STAFF = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "staff")
REVIEW = {
    "clarity_of_hypothesis": "4",
    "technical_depth": "3",
    "correctness": "5",
    "experimental_rigor": "2",
    "artifact_quality": "4",
    "strengths": "Clear hypothesis with a success metric.",
    "weaknesses": "A single seed per run.",
    "suggestions": "Three seeds.",
}


@pytest.fixture
def reviewed(demo_platform):
    """The demo course on Apr 28, pairings dealt, one review written by the student's group."""
    demo_platform.set_clock("2026-04-28T10:00")
    with unit_of_work(demo_platform.engine) as session:
        activities.assign_peer_reviews(session, STAFF_TOOL, seed=1, clock=demo_platform.clock)
    sign_in(demo_platform.client, *STUDENT)
    page = demo_platform.client.get("/peer-review").text
    action = re.search(r'<form method="post" action="(/peer-review/\d+)"', page).group(1)
    demo_platform.client.post(action, data={**REVIEW, "csrf_token": csrf_of(page)})
    staff = demo_platform.new_client()
    sign_in(staff, *STAFF)
    return staff


def test_the_staff_nav_has_a_peer_reviews_item(reviewed):
    nav = reviewed.get("/staff").text
    assert re.search(r'<a[^>]*href="/staff/peer-reviews"[^>]*>Peer reviews</a>', nav)


def test_the_staff_page_shows_each_groups_peer_score_and_every_review(reviewed):
    page = reviewed.get("/staff/peer-reviews")
    assert page.status_code == 200
    assert "72.0" in page.text  # 4 + 3 + 5 + 2 + 4 = 18 of 25 points
    assert "Clear hypothesis with a success metric." in page.text
    assert "counted after the deadline" in page.text


def test_the_student_page_says_how_much_the_reviews_count(demo_platform):
    sign_in(demo_platform.client, *STUDENT)
    page = demo_platform.client.get("/peer-review").text
    assert "count for 20% of each member's technical-quality score" in page
