"""Roles over the JSON API (issue 3): "a student sees only their own grades and their group's
data (tests for every route)". Each route is called as a student on someone else's data
(refused) and, where the route allows it, on their own data or as staff (answered)."""

from __future__ import annotations

import re

import pytest

NONE_USED = {"external_code": "none", "sources": "none", "ai_assistance": "none"}
REVIEW = {
    "clarity_of_hypothesis": 4,
    "technical_depth": 3,
    "correctness": 5,
    "experimental_rigor": 2,
    "artifact_quality": 4,
    "strengths": "A clear hypothesis.",
    "weaknesses": "One seed per run.",
    "suggestions": "Run three seeds.",
}
KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBq0xaLd2Xh1k0dmmFQ1pJ2JfRk0q8tJ8pTq4CkV2sUA me@laptop"

# (method, path(world), body(world), expected status for the student "me")
STUDENT_REFUSED = [
    ("GET", lambda w: f"/written-answers?group_id={w.group_b.id}", None, 403),
    ("POST", lambda w: "/written-answers/1/grade", lambda w: {"applied_items": []}, 403),
    ("PATCH", lambda w: "/assignments/A4/rubric/3.1/accept", lambda w: {"points": 3}, 403),
    ("GET", lambda w: "/assignments/A4/grading-progress", None, 403),
    ("GET", lambda w: f"/grading-jobs?group_id={w.group_b.id}", None, 403),
    ("POST", lambda w: "/assignments/A4/regrade", None, 403),
    ("GET", lambda w: "/people", None, 403),
    ("POST", lambda w: "/people", lambda w: {"name": "X", "email": "x@example.edu"}, 403),
    ("GET", lambda w: f"/people/{w.other.id}", None, 403),
    ("PATCH", lambda w: f"/people/{w.other.id}", lambda w: {"name": "Mallory"}, 403),
    ("GET", lambda w: f"/people/{w.other.id}/grade", None, 403),
    ("GET", lambda w: f"/people/{w.other.id}/scores", None, 403),
    ("GET", lambda w: f"/people/{w.other.id}/slack-days", None, 403),
    ("GET", lambda w: f"/people/{w.other.id}/ssh-keys", None, 403),
    ("GET", lambda w: f"/people/{w.other.id}/assignments", None, 403),
    ("POST", lambda w: f"/people/{w.other.id}/ssh-keys", lambda w: {"public_key": KEY}, 403),
    ("DELETE", lambda w: f"/ssh-keys/{w.other_key.id}", None, 403),
    ("GET", lambda w: f"/people/{w.other.id}/api-tokens", None, 403),
    ("POST", lambda w: f"/people/{w.other.id}/api-tokens", lambda w: {"name": "x"}, 403),
    ("DELETE", lambda w: f"/api-tokens/{w.other_token_row.id}", None, 403),
    ("GET", lambda w: "/audit", None, 403),
    ("PATCH", lambda w: "/course/settings", lambda w: {"deadline_time": "17:00"}, 403),
    ("POST", lambda w: "/lectures/L5/move", lambda w: {"day": "2026-02-05"}, 403),
    ("POST", lambda w: "/lectures/L5/retitle", lambda w: {"title": "New"}, 403),
    ("POST", lambda w: "/lectures/swap", lambda w: {"first": "L5", "second": "L6"}, 403),
    ("POST", lambda w: "/groups", lambda w: {"name": "Late group"}, 403),
    (
        "POST",
        lambda w: "/groups/propose",
        lambda w: {"name": "Mine", "member_ids": [w.loner.id]},
        403,
    ),
    ("GET", lambda w: f"/groups/{w.group_b.id}", None, 403),
    ("POST", lambda w: f"/groups/{w.group_b.id}/confirm", None, 403),
    ("POST", lambda w: f"/groups/{w.group_a.id}/leave", None, 403),
    (
        "POST",
        lambda w: f"/groups/{w.group_b.id}/invitations",
        lambda w: {"person_id": w.loner.id},
        403,
    ),
    ("POST", lambda w: f"/people/{w.loner.id}/move", lambda w: {"group_id": w.group_a.id}, 403),
    ("PATCH", lambda w: f"/nodes/{w.group_b.node_id}", lambda w: {"external_ip": "10.0.0.9"}, 403),
    ("GET", lambda w: f"/nodes/{w.group_b.node_id}/authorized_keys", None, 403),
    (
        "POST",
        lambda w: "/reservations",
        lambda w: {
            "node_ids": [w.group_b.node_id, 3],
            "starts_at": "2026-02-20T09:00:00-08:00",
            "ends_at": "2026-02-20T12:00:00-08:00",
        },
        403,
    ),
    ("GET", lambda w: f"/submissions?group_id={w.group_b.id}", None, 403),
    ("POST", lambda w: f"/groups/{w.group_b.id}/slack-days", lambda w: {"assignment": "A2"}, 403),
    (
        "POST",
        lambda w: f"/slack-days/{w.other_slack[0].id}/reverse",
        lambda w: {"reason": "x"},
        403,
    ),
    ("GET", lambda w: "/slack-days", None, 403),
    (
        "POST",
        lambda w: "/exceptions",
        lambda w: {
            "person_id": w.me.id,
            "assignment": "A1",
            "new_deadline": "2026-03-01T23:59:00-08:00",
            "reason": "please",
        },
        403,
    ),
    ("POST", lambda w: f"/exceptions/{w.exception.id}/revoke", None, 403),
    (
        "POST",
        lambda w: "/scores",
        lambda w: {"person_id": w.me.id, "item": "A1.code", "points": 100},
        403,
    ),
    (
        "POST",
        lambda w: f"/groups/{w.group_a.id}/scores",
        lambda w: {"item": "A1.code", "points": 100},
        403,
    ),
    ("GET", lambda w: "/gradebook", None, 403),
    ("POST", lambda w: "/scribes/assign", lambda w: {"seed": 1, "replace": True}, 403),
    ("POST", lambda w: f"/scribes/{w.scribes[0].id}/mark", lambda w: {"satisfactory": True}, 403),
    ("POST", lambda w: f"/scribes/{w.scribes[0].id}/move", lambda w: {"lecture": "L1"}, 403),
    ("POST", lambda w: "/peer-reviews/assign", lambda w: {"seed": 1, "replace": True}, 403),
    ("GET", lambda w: "/peer-reviews/reviews", None, 403),
    ("GET", lambda w: "/peer-reviews/summary", None, 403),
    ("GET", lambda w: f"/groups/{w.group_b.id}/peer-reviews", None, 403),
    ("GET", lambda w: f"/groups/{w.group_a.id}/peer-reviews", None, 403),  # before May 1
    ("PUT", lambda w: f"/peer-reviews/assigned/{w.group_a.id}", lambda w: REVIEW, 400),  # own
    ("GET", lambda w: f"/peer-reviews/assigned/{w.group_a.id}", None, 400),  # own report
    (
        "POST",
        lambda w: "/slots",
        lambda w: {
            "kind": "midterm_checkin",
            "starts_at": "2026-03-18T10:00:00-07:00",
            "ends_at": "2026-03-18T10:30:00-07:00",
        },
        403,
    ),
    ("POST", lambda w: f"/slots/{w.slot.id}/signups", lambda w: {"group_id": w.group_b.id}, 403),
    ("DELETE", lambda w: f"/signups/{w.other_signup.id}", None, 403),
    ("POST", lambda w: "/invitations/999999/answer", lambda w: {"accept": True}, 404),
]

# Routes a student may use on their own data, and what they get.
STUDENT_ALLOWED = [
    ("PUT", lambda w: "/assignments/A4/answers/3.1", lambda w: {"text": "p = min + residual"}, 200),
    ("GET", lambda w: "/written-answers", None, 200),
    ("GET", lambda w: "/grading-jobs", None, 200),
    ("GET", lambda w: "/me", None, 200),
    ("GET", lambda w: f"/people/{w.me.id}", None, 200),
    ("PATCH", lambda w: f"/people/{w.me.id}", lambda w: {"name": "Ada L."}, 200),
    ("GET", lambda w: f"/people/{w.me.id}/grade", None, 200),
    ("GET", lambda w: f"/people/{w.me.id}/scores", None, 200),
    ("GET", lambda w: f"/people/{w.me.id}/slack-days", None, 200),
    ("GET", lambda w: f"/people/{w.me.id}/ssh-keys", None, 200),
    ("GET", lambda w: f"/people/{w.me.id}/assignments", None, 200),
    ("POST", lambda w: f"/people/{w.me.id}/ssh-keys", lambda w: {"public_key": KEY}, 201),
    ("GET", lambda w: f"/people/{w.me.id}/api-tokens", None, 200),
    ("POST", lambda w: f"/people/{w.me.id}/api-tokens", lambda w: {"name": "cli"}, 201),
    ("GET", lambda w: "/groups", None, 200),
    ("GET", lambda w: f"/groups/{w.group_a.id}", None, 200),
    ("GET", lambda w: "/invitations", None, 200),
    ("GET", lambda w: "/nodes", None, 200),
    ("GET", lambda w: f"/nodes/{w.group_a.node_id}/authorized_keys", None, 200),
    ("GET", lambda w: "/reservations", None, 200),
    ("GET", lambda w: f"/reservations/{w.reservation.id}", None, 200),
    ("POST", lambda w: f"/reservations/{w.reservation.id}/consent", None, 200),
    ("GET", lambda w: "/submissions", None, 200),
    ("POST", lambda w: "/submissions", lambda w: {"assignment": "A1", "integrity": NONE_USED}, 201),
    ("POST", lambda w: f"/groups/{w.group_a.id}/slack-days", lambda w: {"assignment": "A2"}, 201),
    ("GET", lambda w: "/exceptions", None, 200),
    ("GET", lambda w: "/scribes", None, 200),
    ("GET", lambda w: "/peer-reviews", None, 200),
    ("GET", lambda w: "/peer-reviews/assigned", None, 200),
    ("GET", lambda w: f"/peer-reviews/assigned/{w.group_b.id}", None, 200),
    ("PUT", lambda w: f"/peer-reviews/assigned/{w.group_b.id}", lambda w: REVIEW, 200),
    ("GET", lambda w: "/slots", None, 200),
    ("POST", lambda w: f"/slots/{w.slot.id}/signups", lambda w: {}, 201),
    ("POST", lambda w: f"/reservations/{w.reservation.id}/cancel", None, 200),
    # notifications (issue 13): each person's own, so every call is allowed
    ("GET", lambda w: "/notifications?unread=true", None, 200),
    ("GET", lambda w: "/notifications/unread", None, 200),
    ("POST", lambda w: "/notifications/read", lambda w: {}, 200),
    ("GET", lambda w: "/notifications/settings", None, 200),
    ("PUT", lambda w: "/notifications/settings", lambda w: {"email": "off", "muted": []}, 200),
]

STAFF_ALLOWED = [
    ("GET", lambda w: f"/written-answers?group_id={w.group_b.id}", None, 200),
    ("POST", lambda w: "/written-answers/999999/grade", lambda w: {"applied_items": []}, 404),
    ("PATCH", lambda w: "/assignments/A4/rubric/3.1/accept", lambda w: {"points": 3}, 200),
    ("GET", lambda w: "/assignments/A4/grading-progress", None, 200),
    ("GET", lambda w: f"/grading-jobs?group_id={w.group_b.id}", None, 200),
    ("POST", lambda w: "/assignments/A4/regrade", None, 200),
    ("GET", lambda w: "/people", None, 200),
    ("POST", lambda w: "/people", lambda w: {"name": "New", "email": "new@example.edu"}, 201),
    ("GET", lambda w: f"/people/{w.other.id}/grade", None, 200),
    ("GET", lambda w: "/audit", None, 200),
    ("PATCH", lambda w: "/course/settings", lambda w: {"deadline_time": "17:00"}, 200),
    ("PATCH", lambda w: "/course/settings", lambda w: {"slack_days_total": -1}, 400),
    ("POST", lambda w: "/lectures/L5/retitle", lambda w: {"title": "NeMo AutoModel"}, 200),
    ("POST", lambda w: "/lectures/swap", lambda w: {"first": "L5", "second": "L6"}, 200),
    ("POST", lambda w: "/lectures/L26/move", lambda w: {"day": "2026-04-28"}, 200),
    ("GET", lambda w: "/groups", None, 200),
    ("GET", lambda w: f"/groups/{w.group_b.id}", None, 200),
    ("POST", lambda w: f"/groups/{w.group_b.id}/confirm", None, 200),
    ("POST", lambda w: f"/people/{w.loner.id}/move", lambda w: {"group_id": w.group_a.id}, 200),
    ("PATCH", lambda w: f"/nodes/{w.group_b.node_id}", lambda w: {"external_ip": "10.0.0.9"}, 200),
    ("GET", lambda w: f"/nodes/{w.group_b.node_id}/authorized_keys", None, 200),
    ("GET", lambda w: f"/reservations/{w.reservation.id}/plan", None, 403),  # not yet active
    ("GET", lambda w: "/slack-days", None, 200),
    (
        "POST",
        lambda w: f"/slack-days/{w.other_slack[0].id}/reverse",
        lambda w: {"reason": "x"},
        200,
    ),
    (
        "POST",
        lambda w: "/exceptions",
        lambda w: {
            "group_id": w.group_a.id,
            "assignment": "A1",
            "new_deadline": "2026-03-01T23:59:00-08:00",
            "reason": "outage",
        },
        201,
    ),
    ("POST", lambda w: f"/exceptions/{w.exception.id}/revoke", None, 200),
    (
        "POST",
        lambda w: "/scores",
        lambda w: {"person_id": w.me.id, "item": "A1.code", "points": 90},
        200,
    ),
    (
        "POST",
        lambda w: f"/groups/{w.group_a.id}/scores",
        lambda w: {"item": "A1.written", "points": 80},
        200,
    ),
    ("GET", lambda w: "/gradebook", None, 200),
    ("POST", lambda w: "/scribes/assign", lambda w: {"seed": 1, "replace": True}, 200),
    ("POST", lambda w: f"/scribes/{w.scribes[0].id}/mark", lambda w: {"satisfactory": True}, 200),
    ("POST", lambda w: f"/scribes/{w.scribes[0].id}/move", lambda w: {"lecture": "L99"}, 404),
    ("POST", lambda w: "/peer-reviews/assign", lambda w: {"seed": 1, "replace": True}, 200),
    ("GET", lambda w: "/peer-reviews/reviews", None, 200),
    ("GET", lambda w: "/peer-reviews/summary", None, 200),
    ("GET", lambda w: f"/groups/{w.group_b.id}/peer-reviews", None, 200),
    ("GET", lambda w: "/peer-reviews/assigned", None, 200),  # staff write none: empty
    ("PUT", lambda w: f"/peer-reviews/assigned/{w.group_b.id}", lambda w: REVIEW, 403),
    (
        "POST",
        lambda w: "/slots",
        lambda w: {
            "kind": "presentation",
            "session": "A",
            "starts_at": "2026-04-28T09:30:00-07:00",
            "ends_at": "2026-04-28T09:45:00-07:00",
        },
        201,
    ),
    ("DELETE", lambda w: f"/signups/{w.other_signup.id}", None, 204),
    ("DELETE", lambda w: f"/ssh-keys/{w.other_key.id}", None, 200),
    ("DELETE", lambda w: f"/api-tokens/{w.other_token_row.id}", None, 200),
    ("POST", lambda w: "/groups/propose", lambda w: {"name": "Gamma", "member_ids": []}, 400),
]

PUBLIC = [
    "/clock",
    "/course",
    "/staff",
    "/assignments",
    "/milestones",
    "/lectures",
    "/calendar.ics",
    "/schedule.md",
]


def _call(client, world, token, method, path, body):
    return client.request(
        method,
        "/api" + path(world),
        json=body(world) if body else None,
        headers={"Authorization": f"Bearer {token}"},
    )


def _label(case) -> str:
    return case[0]


@pytest.mark.parametrize(
    "case", STUDENT_REFUSED, ids=[f"{c[0]} {i}" for i, c in enumerate(STUDENT_REFUSED)]
)
def test_a_student_is_refused_other_peoples_data_and_staff_actions(api_world, case):
    client, world = api_world
    method, path, body, status = case
    answer = _call(client, world, world.student_token, method, path, body)
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["message"]


@pytest.mark.parametrize(
    "case", STUDENT_ALLOWED, ids=[f"{c[0]} {i}" for i, c in enumerate(STUDENT_ALLOWED)]
)
def test_a_student_uses_their_own_and_their_groups_data(api_world, case):
    client, world = api_world
    method, path, body, status = case
    answer = _call(client, world, world.student_token, method, path, body)
    assert answer.status_code == status, answer.text


@pytest.mark.parametrize(
    "case", STAFF_ALLOWED, ids=[f"{c[0]} {i}" for i, c in enumerate(STAFF_ALLOWED)]
)
def test_staff_may_act_on_everyone(api_world, case):
    client, world = api_world
    method, path, body, status = case
    answer = _call(client, world, world.staff_token, method, path, body)
    assert answer.status_code == status, answer.text


@pytest.mark.parametrize("path", PUBLIC)
def test_the_published_course_needs_no_token(api_world, path):
    client, _ = api_world
    assert client.get("/api" + path).status_code == 200


def test_a_student_lists_only_their_own_group(api_world):
    client, world = api_world
    groups = _call(client, world, world.student_token, "GET", lambda w: "/groups", None).json()
    assert [g["id"] for g in groups] == [world.group_a.id]


def test_a_student_sees_only_their_groups_submissions(api_world):
    client, world = api_world
    rows = _call(client, world, world.student_token, "GET", lambda w: "/submissions", None).json()
    assert all(r["group_id"] == world.group_a.id for r in rows)


def test_no_token_is_401_and_a_bad_token_too(api_world):
    client, _ = api_world
    assert client.get("/api/me").status_code == 401
    answer = client.get("/api/me", headers={"Authorization": "Bearer nope"})
    assert answer.status_code == 401
    assert answer.json()["error"]["field"] == "Authorization"


def test_an_unknown_calendar_feed_token_is_404(api_world):
    client, _ = api_world
    assert client.get("/api/calendar/feed/nope.ics").status_code == 404


def _operations(app) -> set[tuple[str, str]]:
    """Every (METHOD, path template) the app serves, read from its OpenAPI schema (FastAPI
    0.165 no longer lists included routes as ``APIRoute`` objects in ``app.routes``)."""
    return {
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


def _community_operations() -> set[tuple[str, str]]:
    """The community routes, whose role tests live in test_community_api_refusals.py."""
    from fastapi import FastAPI

    from scalable_ai.course.community.api import router

    app = FastAPI()
    app.include_router(router)
    return _operations(app)


def test_every_route_has_a_role_test(api_world, api_clients, backend):
    _, api, _, world = api_clients(backend)
    called = [
        (method, path(world).split("?")[0])
        for method, path, _, _ in STUDENT_REFUSED + STUDENT_ALLOWED + STAFF_ALLOWED
    ]
    called += [("GET", p) for p in PUBLIC] + [("GET", "/calendar/feed/nope.ics")]
    operations = _operations(api) - _community_operations()
    assert len(operations) > 40  # the check itself must see the routes

    def served(template: str, path: str) -> bool:
        pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
        return re.fullmatch(pattern, path) is not None

    missing = [
        f"{method} {template}"
        for method, template in sorted(operations)
        if not any(m == method and served(template, p) for m, p in called)
    ]
    assert missing == []
