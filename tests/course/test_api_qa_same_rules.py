"""The Q&A JSON API keeps the Q&A page's rules (issue 13, "Q&A at Ed's level"; the platform is
"Web UI, JSON API and CLI over a real database"): each route is the service use case the page
calls, so for the asker, a classmate and staff every edit, delete, resolve, follow, read and
edit-history call ends as the service decides (allowed, 403 another's post, 404 a thread one
cannot see); ``GET /threads`` is the page's board (its filters, 20 a page); a deleted answer
or thread is gone for classmates and shown to staff, marked; answering through the API
follows the thread and notifies its followers as the page does."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from scalable_ai.course.api import create_api
from scalable_ai.course.community.api import router as community_router
from scalable_ai.course.community.service import forum, qa_board
from scalable_ai.course.service import Actor, credentials
from scalable_ai.errors import Forbidden, NotFound, UserError
from tests.course.test_community_api import World


@pytest.fixture
def served(backend, course_engines, clock):
    """The API over one rolled-back connection with a World, the session factory (to ask the
    services the same question) and a token for the classmate too."""
    engine = course_engines(backend)
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    with factory() as session:
        w = World(session, clock)
        _, w.other_token = credentials.create_api_token(
            session, Actor.local_staff("tests"), person_id=w.other.id, name="t", clock=clock
        )
        session.commit()
    api = create_api(engine=engine, sessions=factory, clock=clock)
    api.include_router(community_router)
    app = FastAPI()
    app.mount("/api", api)
    with TestClient(app) as client:
        yield client, w, factory
    outer.rollback()
    connection.close()


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- who may do what: the API against the service, case by case ----------------------------

Svc = Callable[[Session, Actor, int, int, Any], object]


def _read(s: Session, a: Actor, t: int, p: int, clock: Any) -> object:
    return qa_board.opened(s, a, forum.get_thread(s, a, t), clock=clock)


# (what, HTTP method, path, JSON body, the service call the page makes, outcome for the asker,
# a classmate, staff) on a public question of the asker with the asker's own answer.
CASES: list[tuple[str, str, str, dict | None, Svc, tuple[str, str, str]]] = [
    ("edit question", "PATCH", "/threads/{t}", {"title": "NaN loss", "body": "LR was 10x"},
     lambda s, a, t, p, c: qa_board.edit_thread(s, a, t, title="NaN loss", body="LR was 10x", clock=c),
     ("ok", "403", "ok")),
    ("edit answer", "PATCH", "/posts/{p}", {"body": "try bf16"},
     lambda s, a, t, p, c: qa_board.edit_post(s, a, p, body="try bf16", clock=c),
     ("ok", "403", "ok")),
    ("delete question", "DELETE", "/threads/{t}", None,
     lambda s, a, t, p, c: qa_board.delete_thread(s, a, t, clock=c),
     ("ok", "403", "ok")),
    ("delete answer", "DELETE", "/posts/{p}", None,
     lambda s, a, t, p, c: qa_board.delete_post(s, a, p, clock=c),
     ("ok", "403", "ok")),
    ("resolve", "PUT", "/threads/{t}/resolved", {"resolved": True},
     lambda s, a, t, p, c: qa_board.set_resolved(s, a, t, resolved=True, clock=c),
     ("ok", "403", "ok")),
    ("unresolve", "PUT", "/threads/{t}/resolved", {"resolved": False},
     lambda s, a, t, p, c: qa_board.set_resolved(s, a, t, resolved=False, clock=c),
     ("ok", "403", "ok")),
    ("follow", "PUT", "/threads/{t}/following", {"following": True},
     lambda s, a, t, p, c: qa_board.set_following(s, a, t, following=True, clock=c),
     ("ok", "ok", "ok")),
    ("unfollow", "PUT", "/threads/{t}/following", {"following": False},
     lambda s, a, t, p, c: qa_board.set_following(s, a, t, following=False, clock=c),
     ("ok", "ok", "ok")),
    ("mark read", "POST", "/threads/{t}/read", None, _read, ("ok", "ok", "ok")),
    ("edit history", "GET", "/threads/{t}/history", None,
     lambda s, a, t, p, c: qa_board.history(s, a, t),
     ("403", "403", "ok")),
    ("show", "GET", "/threads/{t}", None,
     lambda s, a, t, p, c: forum.get_thread(s, a, t),
     ("ok", "ok", "ok")),
]  # fmt: skip


def _service_says(factory, actor: Actor, call: Svc, t: int, p: int, clock) -> str:
    """What the service (the page's rule) decides, in a transaction rolled back after."""
    with factory() as session:
        try:
            call(session, actor, t, p, clock)
            session.flush()
            return "ok"
        except Forbidden:
            return "403"
        except NotFound:
            return "404"
        except UserError:
            return "422"
        finally:
            session.rollback()


def _api_says(status: int) -> str:
    return "ok" if status in (200, 201, 204) else str(status)


@pytest.mark.parametrize("private", [False, True], ids=["public", "private"])
def test_every_qa_route_decides_as_the_service_for_asker_classmate_and_staff(
    served, clock, private
):
    client, w, factory = served
    people = {
        "asker": (w.student_token, Actor.of(w.me)),
        "classmate": (w.other_token, Actor.of(w.other)),
        "staff": (w.staff_token, Actor.of(w.staff_person)),
    }
    for what, method, path, body, call, expected in CASES:
        for who, want in zip(people, expected, strict=True):
            # a fresh question and answer of the asker per case: deleting one changes nothing
            # for the next
            question = {"category": "A2", "title": f"{what} {who}", "body": "loss is NaN"}
            made = client.post(
                "/api/threads", json=question | {"private": private}, headers=_auth(w.student_token)
            )
            t = made.json()["id"]
            answered = client.post(
                f"/api/threads/{t}/posts", json={"body": "LR?"}, headers=_auth(w.student_token)
            )
            p = answered.json()["id"]
            token, actor = people[who]
            service = _service_says(factory, actor, call, t, p, clock)
            got = client.request(
                method, "/api" + path.format(t=t, p=p), json=body, headers=_auth(token)
            )
            # another's private question reads as absent to a classmate (the history is
            # refused to every student before any thread is looked at)
            hidden = private and who == "classmate" and what != "edit history"
            rule = "404" if hidden else want
            assert (what, who, _api_says(got.status_code)) == (what, who, service), got.text
            assert (what, who, service) == (what, who, rule)
            if got.status_code >= 400:
                assert got.json()["error"]["message"], got.text  # one line, in words


# --- GET /threads is the board of the Q&A page ---------------------------------------------


def _all_pages(client, query: str, token: str) -> tuple[list[int], list[str]]:
    ids: list[int] = []
    links: list[str] = []
    page = 1
    while True:
        got = client.get(f"/api/threads?{query}&page={page}", headers=_auth(token))
        assert got.status_code == 200, got.text
        ids += [t["id"] for t in got.json()]
        links.append(got.headers.get("link", ""))
        if 'rel="next"' not in links[-1]:
            return ids, links
        page += 1


def test_get_threads_filters_and_pages_as_the_qa_page_board(served, clock):
    client, w, factory = served
    other, staff = Actor.of(w.other), Actor.of(w.staff_person)
    me = Actor.of(w.me)
    with factory() as session:
        asked = [
            forum.post_question(
                session, other, category="A1", title=f"Shapes {i}", body="dim mismatch", clock=clock
            )
            for i in range(22)
        ]
        session.flush()
        for thread in asked[:3]:
            forum.answer(session, me, thread.id, body="transpose it", clock=clock)
        for thread in asked[3:5]:
            qa_board.set_resolved(session, staff, thread.id, resolved=True, clock=clock)
        qa_board.set_following(session, me, asked[6].id, following=True, clock=clock)
        qa_board.opened(session, me, asked[7], clock=clock)
        session.commit()

    first = client.get("/api/threads", headers=_auth(w.student_token))
    assert len(first.json()) == qa_board.PER_PAGE == 20
    total = int(first.headers["x-total-count"])
    assert total > 20 and 'rel="next"' in first.headers["link"]
    assert 'rel="prev"' not in first.headers["link"]
    last = client.get("/api/threads?page=2", headers=_auth(w.student_token))
    assert 'rel="prev"' in last.headers["link"] and len(last.json()) == total - 20

    for show in qa_board.FILTERS:
        ids, _ = _all_pages(client, f"show={show}&category=A1", w.student_token)
        with factory() as session:
            board = qa_board.board(session, me, category="A1", show=show, per_page=1000)
            assert ids == [t.id for t in board.threads], show
    ids_of = {
        show: set(_all_pages(client, f"show={show}&category=A1", w.student_token)[0])
        for show in ("resolved", "following", "answered", "unread")
    }
    mine = {t.id for t in asked}
    assert ids_of["resolved"] & mine == {t.id for t in asked[3:5]}
    assert ids_of["following"] & mine == {t.id for t in asked[:3]} | {asked[6].id}
    assert ids_of["answered"] & mine == {t.id for t in asked[:3]}
    assert asked[7].id not in ids_of["unread"] and asked[8].id in ids_of["unread"]

    # the board's search through GET /threads, and bad input named by field
    found = client.get("/api/threads?q=mismatches", headers=_auth(w.student_token))  # stemmed
    assert int(found.headers["x-total-count"]) == 22
    for bad, field in (("show=everything", "show"), ("category=gossip", "category")):
        refused = client.get(f"/api/threads?{bad}", headers=_auth(w.student_token))
        assert refused.status_code == 422 and refused.json()["error"]["field"] == field


# --- deletion: gone for classmates, kept and marked for staff --------------------------------


def test_a_deleted_answer_or_question_is_gone_for_classmates_and_marked_for_staff(served):
    client, w, _ = served
    me, other, staff = _auth(w.student_token), _auth(w.other_token), _auth(w.staff_token)
    posted = client.post(
        f"/api/threads/{w.public.id}/posts", json={"body": "my secret hyperparameters"}, headers=me
    ).json()
    assert client.delete(f"/api/posts/{posted['id']}", headers=me).status_code == 204

    seen = client.get(f"/api/threads/{w.public.id}", headers=other).json()
    assert posted["id"] not in [p["id"] for p in seen["posts"]]
    assert "secret" not in str(seen)
    kept = client.get(f"/api/threads/{w.public.id}", headers=staff).json()
    [marked] = [p for p in kept["posts"] if p["id"] == posted["id"]]
    assert marked["deleted"] is True and kept["answers"] == seen["answers"]
    assert (
        client.patch(f"/api/posts/{posted['id']}", json={"body": "x"}, headers=me).status_code
        == 404
    )

    asked = client.post(
        "/api/threads", json={"category": "A1", "title": "Oops", "body": "wrong course"}, headers=me
    ).json()
    assert client.delete(f"/api/threads/{asked['id']}", headers=me).status_code == 204
    for who in (me, other):
        assert client.get(f"/api/threads/{asked['id']}", headers=who).status_code == 404
        assert asked["id"] not in [t["id"] for t in client.get("/api/threads", headers=who).json()]
    as_staff = client.get(f"/api/threads/{asked['id']}", headers=staff).json()
    assert as_staff["deleted"] is True
    history = client.get(f"/api/threads/{asked['id']}/history", headers=staff).json()
    assert [(h["action"], h["body"]) for h in history] == [("delete", "wrong course")]


# --- notifications: the service's side effects, through the API -----------------------------


def test_answering_through_the_api_follows_and_notifies_as_the_page_does(served):
    client, w, _ = served
    me, other, staff = _auth(w.student_token), _auth(w.other_token), _auth(w.staff_token)

    def answers_heard(who: dict[str, str]) -> int:
        told = client.get("/api/notifications?unread=true", headers=who).json()
        return len([n for n in told if n["kind"] == "answer"])

    assert client.get(f"/api/threads/{w.public.id}", headers=me).json()["following"] is False
    client.post(f"/api/threads/{w.public.id}/posts", json={"body": "same here"}, headers=me)
    shown = client.get(f"/api/threads/{w.public.id}", headers=me).json()
    assert shown["following"] is True and shown["unread"] is False
    assert answers_heard(other) == 1  # the asker follows their question
    assert answers_heard(me) == 0  # never told of one's own answer

    client.put(f"/api/threads/{w.public.id}/following", json={"following": False}, headers=me)
    client.post(f"/api/threads/{w.public.id}/posts", json={"body": "use bf16"}, headers=staff)
    assert answers_heard(me) == 0 and answers_heard(other) == 2
