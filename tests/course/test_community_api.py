"""Roles over the community routes of the JSON API (issue 5): "API tests for permissions on
every new route (a student cannot read another's private question, questionnaire answers or
returned scribe feedback)". Here: the calls that change something, as the student on their
own data and as staff, each on a fresh World; the refusals and the reads are in
``test_community_api_refusals``, on one World per module."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from scalable_ai.course.api import create_api
from scalable_ai.course.community.api import router as community_router
from scalable_ai.course.community.questions import DEFAULT_QUESTIONS
from scalable_ai.course.community.service import forum, notes, participation, project
from scalable_ai.course.community.service import questionnaire as onboarding
from scalable_ai.course.service import Actor, credentials, groups, people
from scalable_ai.course.service.course import lecture_by_key
from scalable_ai.course.tables import Node, ScribeAssignment

PDF = base64.b64encode(b"%PDF-1.4\n%%EOF\n").decode()
ANSWERS = {
    "background": "MEng",
    "gpu_experience": DEFAULT_QUESTIONS[1].options[1],
    "time_commitments": DEFAULT_QUESTIONS[3].options[0],
}


class World:
    """Two groups of four, staff, tokens; the other student has a private question, answers,
    returned scribe notes and a pending enhancement and deliverable."""

    def __init__(self, session: Session, clock) -> None:
        staff = Actor.local_staff("tests")
        self.staff_person = people.add_person(
            session, staff, name="Paul Zhou", email="paul@example.edu", role="staff", clock=clock
        )
        students = [
            people.add_person(
                session, staff, name=f"Student {i}", email=f"c{i}@example.edu", clock=clock
            )
            for i in range(8)
        ]
        session.flush()
        self.group_a = groups.propose_group(
            session, staff, name="Alpha", member_ids=[s.id for s in students[:4]], clock=clock
        )
        self.group_b = groups.propose_group(
            session, staff, name="Beta", member_ids=[s.id for s in students[4:]], clock=clock
        )
        for group in (self.group_a, self.group_b):
            groups.confirm_group(session, staff, group.id, clock=clock)
        self.me, self.other = students[0], students[4]
        me, other = Actor.of(self.me), Actor.of(self.other)
        onboarding.install_default_questions(session, staff, clock=clock)
        onboarding.release(session, staff, clock=clock)
        onboarding.submit_answers(session, other, ANSWERS, clock=clock)
        self.private = forum.post_question(
            session,
            other,
            category="A1",
            title="My grade",
            body="private",
            private=True,
            clock=clock,
        )
        self.public = forum.post_question(
            session, other, category="A1", title="Hi", body="public", clock=clock
        )
        session.flush()
        self.post = forum.answer(session, other, self.public.id, body="me too", clock=clock)
        self.node = session.get(Node, self.group_a.node_id)
        self.ticket = forum.file_ticket(
            session,
            me,
            title="ECC",
            node_id=self.node.id,
            occurred_at=clock.now() - timedelta(hours=1),
            job_ids="1",
            logs="Xid 79",
            repro="nvidia-smi",
            clock=clock,
        )
        for student in (self.me, self.other):
            session.add(
                ScribeAssignment(
                    lecture_id=lecture_by_key(session, "L5").id,
                    person_id=student.id,
                    assigned_at=clock.now(),
                )
            )
        session.flush()
        self.returned = notes.submit_scribe_note(
            session,
            other,
            "L5",
            format="markdown",
            body="draft",
            sources_statement="none",
            clock=clock,
        )
        notes.review_scribe_note(
            session,
            staff,
            self.returned.id,
            decision="returned",
            feedback="secret feedback",
            clock=clock,
        )
        self.enhancement = project.propose_enhancement(
            session,
            other,
            self.group_b.id,
            assignment_key="A1",
            kind="added_questions",
            title="More",
            description="Two more questions",
            clock=clock,
        )
        self.deliverable = project.submit_deliverable(
            session,
            other,
            self.group_b.id,
            kind="hypothesis",
            link="https://x.example/h",
            integrity_statement="none",
            clock=clock,
        )
        project.choose_direction(
            session, other, self.group_b.id, own_title="Ours", own_summary="Our own", clock=clock
        )
        self.window = participation.open_check_in(
            session, staff, "L6", clock=clock, opens_at=clock.now() - timedelta(minutes=5)
        )
        _, self.student_token = credentials.create_api_token(
            session, staff, person_id=self.me.id, name="tests", clock=clock
        )
        _, self.staff_token = credentials.create_api_token(
            session, staff, person_id=self.staff_person.id, name="tests", clock=clock
        )
        session.commit()


def _served(engine, clock, prepare=None):
    """The API (core and community routes) over one rolled-back connection with a World;
    ``prepare(session, world)`` adds to it before the API opens. The world's ``sessions``
    is the session factory, to ask the services the same question."""
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    with factory() as session:
        made = World(session, clock)
        made.sessions = factory
        if prepare is not None:
            prepare(session, made)
            session.commit()
    api = create_api(engine=engine, sessions=factory, clock=clock)
    api.include_router(community_router)
    app = FastAPI()
    app.mount("/api", api)
    with TestClient(app) as client:
        yield client, made
    outer.rollback()
    connection.close()


@pytest.fixture
def world(backend, course_engines, clock):
    """A fresh World per test, for calls that change something."""
    yield from _served(course_engines(backend), clock)


DIRECTION = {"title": "Muon at scale", "summary": "x"}
TICKET = {
    "title": "NCCL",
    "node_id": 1,
    "occurred_at": "2026-02-05T09:00:00-08:00",
    "job_ids": "9",
    "logs": "timeout",
    "repro": "torchrun",
}

STUDENT_ALLOWED = [
    ("GET", lambda w: "/questionnaire", None, 200),
    ("PUT", lambda w: "/questionnaire/answers", lambda w: {"answers": ANSWERS}, 200),
    ("GET", lambda w: f"/people/{w.me.id}/questionnaire", None, 200),
    ("GET", lambda w: "/threads", None, 200),
    ("GET", lambda w: "/threads?q=hi&category=A1", None, 200),
    (
        "POST",
        lambda w: "/threads",
        lambda w: {"category": "lecture", "title": "Q", "body": "why?", "anonymous": True},
        201,
    ),
    ("GET", lambda w: f"/threads/{w.public.id}", None, 200),
    ("POST", lambda w: f"/threads/{w.public.id}/posts", lambda w: {"body": "answer"}, 201),
    ("GET", lambda w: "/announcements", None, 200),
    ("POST", lambda w: "/tickets", lambda w: TICKET, 201),
    ("GET", lambda w: "/tickets/by-node", None, 200),
    ("GET", lambda w: "/lectures/L3/comments", None, 200),
    ("POST", lambda w: "/lectures/L3/comments", lambda w: {"body": "slide 4 typo"}, 201),
    (
        "POST",
        lambda w: "/lectures/L5/scribe-notes",
        lambda w: {"format": "pdf", "pdf_base64": PDF, "sources_statement": "none"},
        201,
    ),
    ("GET", lambda w: "/lectures/L5/scribe-notes", None, 200),
    ("GET", lambda w: f"/people/{w.me.id}/scribe-notes", None, 200),
    ("POST", lambda w: "/lectures/L6/check-in", lambda w: {"code": w.window.code}, 200),
    ("GET", lambda w: f"/people/{w.me.id}/participation", None, 200),
    (
        "POST",
        lambda w: f"/groups/{w.group_a.id}/enhancements",
        lambda w: {
            "assignment": "A2",
            "kind": "harder_programmatic",
            "title": "x",
            "description": "y",
        },
        201,
    ),
    ("GET", lambda w: f"/groups/{w.group_a.id}/enhancements", None, 200),
    ("GET", lambda w: f"/groups/{w.group_a.id}/enhancements/score", None, 200),
    ("GET", lambda w: "/research-directions", None, 200),
    (
        "PUT",
        lambda w: f"/groups/{w.group_a.id}/direction",
        lambda w: {"own_title": "FP8 KV", "own_summary": "quantize"},
        200,
    ),
    ("GET", lambda w: f"/groups/{w.group_a.id}/direction", None, 200),
    (
        "POST",
        lambda w: f"/groups/{w.group_a.id}/deliverables",
        lambda w: {
            "kind": "impact",
            "evidence_kind": "preprint",
            "link": "https://arxiv.org/abs/2601.1",
            "integrity_statement": "none",
        },
        201,
    ),
    ("GET", lambda w: f"/groups/{w.group_a.id}/deliverables", None, 200),
    # Q&A at Ed's level (issue 13): one's own thread (the ticket), any visible thread's state
    ("GET", lambda w: "/board?show=unread&page=1", None, 200),
    ("PATCH", lambda w: f"/threads/{w.ticket.id}", lambda w: {"title": "ECC", "body": "x"}, 200),
    ("DELETE", lambda w: f"/threads/{w.ticket.id}", None, 204),
    ("PUT", lambda w: f"/threads/{w.ticket.id}/resolved", lambda w: {"resolved": True}, 400),
    ("PUT", lambda w: f"/threads/{w.public.id}/following", lambda w: {"following": True}, 200),
    ("POST", lambda w: f"/threads/{w.public.id}/read", None, 200),
]

STAFF_ALLOWED = [
    ("GET", lambda w: f"/threads/{w.private.id}", None, 200),
    ("GET", lambda w: f"/people/{w.other.id}/questionnaire", None, 200),
    ("GET", lambda w: "/questionnaire/summary", None, 200),
    (
        "PUT",
        lambda w: "/questionnaire/questions/extra",
        lambda w: {"prompt": "Anything else?", "kind": "text", "required": False},
        200,
    ),
    ("POST", lambda w: "/questionnaire/release", None, 200),
    ("POST", lambda w: f"/people/{w.other.id}/enrollment", lambda w: {"enrolled": True}, 200),
    ("POST", lambda w: "/questionnaire/finalize", None, 200),
    ("POST", lambda w: "/group-proposals", lambda w: {"seed": 1}, 400),  # nobody ungrouped
    ("GET", lambda w: "/group-proposals/99999", None, 404),
    ("GET", lambda w: f"/people/{w.other.id}/scribe-notes", None, 200),
    ("GET", lambda w: f"/scribe-notes/{w.returned.id}", None, 200),
    ("GET", lambda w: f"/scribe-notes/{w.returned.id}/content", None, 200),
    ("GET", lambda w: "/scribe-notes/pending", None, 200),
    ("POST", lambda w: f"/posts/{w.post.id}/endorse", lambda w: {"endorsed": True}, 200),
    ("POST", lambda w: "/announcements", lambda w: {"title": "A2 out", "body": "go"}, 201),
    ("POST", lambda w: f"/tickets/{w.ticket.id}/status", lambda w: {"status": "acknowledged"}, 200),
    ("POST", lambda w: "/lectures/L6/check-in/open", lambda w: {}, 200),
    ("POST", lambda w: "/lectures/L6/attendance", lambda w: {"person_ids": [w.me.id]}, 200),
    ("GET", lambda w: "/lectures/L6/attendance", None, 200),
    (
        "POST",
        lambda w: f"/people/{w.me.id}/participation-credits",
        lambda w: {"kind": "discussion"},
        201,
    ),
    ("GET", lambda w: f"/people/{w.other.id}/participation", None, 200),
    ("GET", lambda w: "/participation", None, 200),
    ("POST", lambda w: "/participation/grade-book", None, 200),
    ("GET", lambda w: f"/groups/{w.group_b.id}/enhancements", None, 200),
    ("GET", lambda w: "/enhancements", None, 200),
    (
        "POST",
        lambda w: f"/enhancements/{w.enhancement.id}/review",
        lambda w: {"decision": "accepted", "score": 80},
        200,
    ),
    ("POST", lambda w: "/research-directions", lambda w: DIRECTION, 201),
    ("GET", lambda w: f"/groups/{w.group_b.id}/direction", None, 200),
    (
        "POST",
        lambda w: f"/groups/{w.group_b.id}/direction/review",
        lambda w: {"decision": "accepted"},
        200,
    ),
    ("GET", lambda w: "/direction-choices", None, 200),
    ("GET", lambda w: f"/groups/{w.group_b.id}/deliverables", None, 200),
    ("GET", lambda w: "/deliverables", None, 200),
    (
        "POST",
        lambda w: f"/deliverables/{w.deliverable.id}/review",
        lambda w: {"decision": "returned", "feedback": "add a metric"},
        200,
    ),
    # Q&A moderation (issue 13)
    ("PATCH", lambda w: f"/posts/{w.post.id}", lambda w: {"body": "see the FAQ"}, 200),
    ("DELETE", lambda w: f"/posts/{w.post.id}", None, 204),
    ("PUT", lambda w: f"/threads/{w.public.id}/resolved", lambda w: {"resolved": True}, 200),
    ("GET", lambda w: f"/threads/{w.public.id}/history", None, 200),
]


def _call(client, world, token, method, path, body):
    return client.request(
        method,
        "/api" + path(world),
        json=body(world) if body else None,
        headers={"Authorization": f"Bearer {token}"},
    )


CHANGES = [c for c in STUDENT_ALLOWED if c[0] != "GET"]
STAFF_CHANGES = [c for c in STAFF_ALLOWED if c[0] != "GET"]


@pytest.mark.parametrize("case", CHANGES, ids=[f"{c[0]} {i}" for i, c in enumerate(CHANGES)])
def test_a_student_changes_their_own_and_their_groups_data(world, case):
    client, made = world
    method, path, body, status = case
    answer = _call(client, made, made.student_token, method, path, body)
    assert answer.status_code == status, answer.text


@pytest.mark.parametrize(
    "case", STAFF_CHANGES, ids=[f"{c[0]} {i}" for i, c in enumerate(STAFF_CHANGES)]
)
def test_staff_may_change_everyone(world, case):
    client, made = world
    method, path, body, status = case
    answer = _call(client, made, made.staff_token, method, path, body)
    assert answer.status_code == status, answer.text
