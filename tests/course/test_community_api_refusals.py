"""Roles over the community routes of the JSON API (issue 5): a student is refused other
people's data and staff actions on every new route, and reads their own — "a student cannot read another's private
question, questionnaire answers or returned scribe feedback". Refused calls change nothing,
so one World per module and backend serves them all (kept apart from the tests that change
data, whose own Worlds would wait on this one's locks)."""

from __future__ import annotations

import pytest

from scalable_ai.course.clock import FixedClock
from tests.course.conftest import MID_SEMESTER
from tests.course.test_community_api import (
    DIRECTION,
    STAFF_ALLOWED,
    STUDENT_ALLOWED,
    _call,
    _served,
)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def shared_world(request, course_engines):
    """One World per module and backend, for calls that are refused (they change nothing)."""
    yield from _served(course_engines(request.param), FixedClock(MID_SEMESTER))


STUDENT_REFUSED = [
    ("GET", lambda w: f"/threads/{w.private.id}", None, 404),
    ("POST", lambda w: f"/threads/{w.private.id}/posts", lambda w: {"body": "peek"}, 404),
    ("GET", lambda w: f"/people/{w.other.id}/questionnaire", None, 403),
    ("GET", lambda w: "/questionnaire/summary", None, 403),
    (
        "PUT",
        lambda w: "/questionnaire/questions/extra",
        lambda w: {"prompt": "?", "kind": "text"},
        403,
    ),
    ("POST", lambda w: "/questionnaire/release", None, 403),
    ("POST", lambda w: f"/people/{w.other.id}/enrollment", lambda w: {"enrolled": False}, 403),
    ("POST", lambda w: "/questionnaire/finalize", None, 403),
    ("POST", lambda w: "/group-proposals", lambda w: {"seed": 1}, 403),
    ("GET", lambda w: "/group-proposals/1", None, 403),
    ("POST", lambda w: "/group-proposals/1/confirm", None, 403),
    ("GET", lambda w: f"/people/{w.other.id}/scribe-notes", None, 403),
    ("GET", lambda w: f"/scribe-notes/{w.returned.id}", None, 404),
    ("GET", lambda w: f"/scribe-notes/{w.returned.id}/content", None, 404),
    ("GET", lambda w: "/scribe-notes/pending", None, 403),
    (
        "POST",
        lambda w: f"/scribe-notes/{w.returned.id}/review",
        lambda w: {"decision": "accepted"},
        403,
    ),
    ("POST", lambda w: f"/posts/{w.post.id}/endorse", lambda w: {"endorsed": True}, 403),
    ("POST", lambda w: "/announcements", lambda w: {"title": "x", "body": "y"}, 403),
    ("POST", lambda w: f"/tickets/{w.ticket.id}/status", lambda w: {"status": "resolved"}, 403),
    ("POST", lambda w: "/lectures/L6/check-in/open", lambda w: {}, 403),
    ("POST", lambda w: "/lectures/L6/attendance", lambda w: {"person_ids": [w.me.id]}, 403),
    ("GET", lambda w: "/lectures/L6/attendance", None, 403),
    (
        "POST",
        lambda w: f"/people/{w.me.id}/participation-credits",
        lambda w: {"kind": "discussion"},
        403,
    ),
    ("GET", lambda w: f"/people/{w.other.id}/participation", None, 403),
    ("GET", lambda w: "/participation", None, 403),
    ("POST", lambda w: "/participation/grade-book", None, 403),
    (
        "POST",
        lambda w: f"/groups/{w.group_b.id}/enhancements",
        lambda w: {"assignment": "A1", "kind": "added_questions", "title": "x", "description": "y"},
        403,
    ),
    ("GET", lambda w: f"/groups/{w.group_b.id}/enhancements", None, 403),
    ("GET", lambda w: f"/groups/{w.group_b.id}/enhancements/score", None, 403),
    ("GET", lambda w: "/enhancements", None, 403),
    (
        "POST",
        lambda w: f"/enhancements/{w.enhancement.id}/review",
        lambda w: {"decision": "accepted", "score": 100},
        403,
    ),
    ("POST", lambda w: "/research-directions", lambda w: DIRECTION, 403),
    (
        "PUT",
        lambda w: f"/groups/{w.group_b.id}/direction",
        lambda w: {"own_title": "x", "own_summary": "y"},
        403,
    ),
    ("GET", lambda w: f"/groups/{w.group_b.id}/direction", None, 403),
    (
        "POST",
        lambda w: f"/groups/{w.group_b.id}/direction/review",
        lambda w: {"decision": "accepted"},
        403,
    ),
    ("GET", lambda w: "/direction-choices", None, 403),
    (
        "POST",
        lambda w: f"/groups/{w.group_b.id}/deliverables",
        lambda w: {
            "kind": "hypothesis",
            "link": "https://x.example",
            "integrity_statement": "none",
        },
        403,
    ),
    ("GET", lambda w: f"/groups/{w.group_b.id}/deliverables", None, 403),
    ("GET", lambda w: "/deliverables", None, 403),
    (
        "POST",
        lambda w: f"/deliverables/{w.deliverable.id}/review",
        lambda w: {"decision": "accepted"},
        403,
    ),
    # Q&A at Ed's level (issue 13): another's post is theirs (and staff's) to change
    ("PATCH", lambda w: f"/threads/{w.public.id}", lambda w: {"title": "x", "body": "y"}, 403),
    ("DELETE", lambda w: f"/threads/{w.public.id}", None, 403),
    ("PATCH", lambda w: f"/posts/{w.post.id}", lambda w: {"body": "mine now"}, 403),
    ("DELETE", lambda w: f"/posts/{w.post.id}", None, 403),
    ("PUT", lambda w: f"/threads/{w.public.id}/resolved", lambda w: {"resolved": True}, 403),
    ("GET", lambda w: f"/threads/{w.public.id}/history", None, 403),
    # ... and another's private question is absent, whatever the action
    ("PATCH", lambda w: f"/threads/{w.private.id}", lambda w: {"title": "x", "body": "y"}, 404),
    ("DELETE", lambda w: f"/threads/{w.private.id}", None, 404),
    ("PUT", lambda w: f"/threads/{w.private.id}/resolved", lambda w: {"resolved": True}, 404),
    ("PUT", lambda w: f"/threads/{w.private.id}/following", lambda w: {"following": True}, 404),
    ("POST", lambda w: f"/threads/{w.private.id}/read", None, 404),
]


@pytest.mark.parametrize(
    "case", STUDENT_REFUSED, ids=[f"{c[0]} {i}" for i, c in enumerate(STUDENT_REFUSED)]
)
def test_a_student_is_refused_other_peoples_data_and_staff_actions(shared_world, case):
    client, made = shared_world
    method, path, body, status = case
    answer = _call(client, made, made.student_token, method, path, body)
    assert answer.status_code == status, answer.text
    assert "secret feedback" not in answer.text and "private" not in answer.text


STUDENT_READS = [c for c in STUDENT_ALLOWED if c[0] == "GET"]
STAFF_READS = [c for c in STAFF_ALLOWED if c[0] == "GET"]


@pytest.mark.parametrize(
    "case", STUDENT_READS, ids=[f"{c[0]} {i}" for i, c in enumerate(STUDENT_READS)]
)
def test_a_student_reads_their_own_and_their_groups_data(shared_world, case):
    client, made = shared_world
    method, path, body, status = case
    assert _call(client, made, made.student_token, method, path, body).status_code == status


@pytest.mark.parametrize(
    "case", STAFF_READS, ids=[f"{c[0]} {i}" for i, c in enumerate(STAFF_READS)]
)
def test_staff_read_everyone(shared_world, case):
    client, made = shared_world
    method, path, body, status = case
    answer = _call(client, made, made.staff_token, method, path, body)
    assert answer.status_code == status, answer.text


def test_a_students_thread_list_leaves_out_others_private_questions(shared_world):
    client, made = shared_world
    rows = _call(client, made, made.student_token, "GET", lambda w: "/threads", None).json()
    assert made.private.id not in {r["id"] for r in rows}
    staff_rows = _call(client, made, made.staff_token, "GET", lambda w: "/threads", None).json()
    assert made.private.id in {r["id"] for r in staff_rows}


def test_research_directions_need_no_token(shared_world):
    client, _ = shared_world
    assert client.get("/api/research-directions").status_code == 200


def test_every_community_route_needs_a_token(shared_world):
    client, _ = shared_world
    assert client.get("/api/threads").status_code == 401
    assert client.put("/api/questionnaire/answers", json={"answers": {}}).status_code == 401


def test_every_community_route_has_a_role_test(shared_world):
    """Each route of the community router is called in one of the role tables."""
    from fastapi.routing import APIRoute

    from scalable_ai.course.community.api import router
    from scalable_ai.course.community.api_project import router as project_router
    from scalable_ai.course.community.api_qa import router as qa_router

    _, made = shared_world
    called = [
        (method, path(made).split("?")[0])
        for method, path, _, _ in STUDENT_REFUSED + STUDENT_ALLOWED + STAFF_ALLOWED
    ]
    called.append(("GET", "/research-directions"))
    routes = [
        r
        for each in (router, project_router, qa_router)
        for r in each.routes
        if isinstance(r, APIRoute)
    ]
    assert len(routes) > 50
    missing = [
        f"{sorted(route.methods)} {route.path}"
        for route in routes
        if isinstance(route, APIRoute)
        and not any(
            method in route.methods and route.path_regex.match(path) for method, path in called
        )
    ]
    assert missing == []
