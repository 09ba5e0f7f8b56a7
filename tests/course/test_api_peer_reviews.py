"""Peer review over the JSON API: "each group will provide a structured, constructive review
of another group's report", due May 1, and "the Technical Quality aspect of the grading will
incorporate peer feedback". In the API world Alpha (the student "me") and Beta review each
other. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest

from scalable_ai.course.clock import BERKELEY

REVIEW = {
    "clarity_of_hypothesis": 4,
    "technical_depth": 3,
    "correctness": 5,
    "experimental_rigor": 2,
    "artifact_quality": 4,
    "strengths": "A clear, falsifiable hypothesis.",
    "weaknesses": "One seed per configuration.",
    "suggestions": "Run three seeds and report the spread.",
}
AFTER_DEADLINE = datetime(2026, 5, 2, 9, 0, tzinfo=BERKELEY)


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def beta_token(api_world) -> str:
    """A token for ``other``, a member of Beta (made by staff over the API)."""
    client, world = api_world
    answer = client.post(
        f"/api/people/{world.other.id}/api-tokens",
        json={"name": "beta"},
        headers=_as(world.staff_token),
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["token"]


def test_a_student_lists_the_review_their_group_writes_with_its_deadline(api_world):
    client, world = api_world
    (assigned,) = client.get("/api/peer-reviews/assigned", headers=_as(world.student_token)).json()
    assert assigned["reviewed_group_id"] == world.group_b.id
    assert assigned["reviewed_group_name"] == "Beta"
    assert assigned["open"] is True and assigned["review"] is None
    assert assigned["due_at"].startswith("2026-05-01T23:59")


def test_a_student_submits_the_structured_review_and_edits_it_until_the_deadline(api_world, clock):
    client, world = api_world
    url = f"/api/peer-reviews/assigned/{world.group_b.id}"
    first = client.put(url, json=REVIEW, headers=_as(world.student_token))
    assert first.status_code == 200, first.text
    clock.at = datetime(2026, 5, 1, 23, 59, tzinfo=BERKELEY)
    again = client.put(url, json={**REVIEW, "correctness": 3}, headers=_as(world.student_token))
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first.json()["id"]
    mine = client.get(url, headers=_as(world.student_token)).json()
    assert mine["review"]["correctness"] == 3
    assert mine["review"]["suggestions"] == REVIEW["suggestions"]


def test_a_review_after_the_deadline_is_refused(api_world, clock):
    client, world = api_world
    clock.at = AFTER_DEADLINE
    answer = client.put(
        f"/api/peer-reviews/assigned/{world.group_b.id}",
        json=REVIEW,
        headers=_as(world.student_token),
    )
    assert answer.status_code == 409
    assert "closed" in answer.json()["error"]["message"]


@pytest.mark.parametrize(
    ("change", "field", "status"),
    [
        ({"weaknesses": "  "}, "weaknesses", 400),  # a written part says something
        ({"technical_depth": 6}, "technical_depth", 422),  # a score is 1..5
    ],
)
def test_an_incomplete_review_is_refused_naming_the_field(api_world, change, field, status):
    client, world = api_world
    answer = client.put(
        f"/api/peer-reviews/assigned/{world.group_b.id}",
        json={**REVIEW, **change},
        headers=_as(world.student_token),
    )
    assert answer.status_code == status
    assert answer.json()["error"]["field"] == field


def test_the_group_reads_the_reviews_of_its_report_only_after_the_deadline(
    api_world, clock, beta_token
):
    client, world = api_world
    written = client.put(
        f"/api/peer-reviews/assigned/{world.group_a.id}", json=REVIEW, headers=_as(beta_token)
    )
    assert written.status_code == 200, written.text
    url = f"/api/groups/{world.group_a.id}/peer-reviews"
    assert client.get(url, headers=_as(world.student_token)).status_code == 403
    clock.at = AFTER_DEADLINE
    (review,) = client.get(url, headers=_as(world.student_token)).json()
    assert review["reviewer_group_id"] == world.group_b.id
    assert review["strengths"] == REVIEW["strengths"]


def test_staff_read_every_review_and_the_per_group_summary(api_world, beta_token):
    client, world = api_world
    client.put(
        f"/api/peer-reviews/assigned/{world.group_a.id}", json=REVIEW, headers=_as(beta_token)
    )
    every = client.get("/api/peer-reviews/reviews", headers=_as(world.staff_token)).json()
    assert [r["reviewed_group_id"] for r in every] == [world.group_a.id]
    summary = client.get("/api/peer-reviews/summary", headers=_as(world.staff_token)).json()
    assert summary["released"] is False and summary["peer_share"] == pytest.approx(0.2)
    by_name = {g["group_name"]: g for g in summary["groups"]}
    # 4 + 3 + 5 + 2 + 4 = 18 points of 25
    assert by_name["Alpha"]["peer_score"] == pytest.approx(72.0)
    assert by_name["Alpha"]["criteria"]["correctness"] == pytest.approx(5.0)
    assert (by_name["Beta"]["reviews_written"], by_name["Beta"]["reviews_assigned"]) == (1, 1)
    assert by_name["Beta"]["reviews_received"] == 0 and by_name["Beta"]["peer_score"] is None


def test_a_student_in_no_group_is_assigned_no_review(api_world):
    client, world = api_world
    answer = client.post(
        f"/api/people/{world.loner.id}/api-tokens",
        json={"name": "x"},
        headers=_as(world.staff_token),
    )
    token = answer.json()["token"]
    assert client.get("/api/peer-reviews/assigned", headers=_as(token)).json() == []
