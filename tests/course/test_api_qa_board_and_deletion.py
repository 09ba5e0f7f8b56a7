"""The Q&A JSON API keeps the Q&A page's rules (issue 13, "Q&A at Ed's level"; the platform is
"Web UI, JSON API and CLI over a real database"): ``GET /threads`` is the page's board (its
filters, 20 a page); a deleted answer or thread is gone for classmates and shown to staff,
marked; answering through the API follows the thread and notifies its followers as the page
does, and a thread read through the API says whether one follows it. Who may edit, delete,
resolve, follow and read the history is in the role tables of ``test_community_api`` and
``test_community_api_refusals``."""

from __future__ import annotations

import pytest

from scalable_ai.course.community.service import forum, qa_board
from scalable_ai.course.service import Actor, credentials
from tests.course.test_community_api import _served


@pytest.fixture
def served(backend, course_engines, clock):
    """The API over one rolled-back connection with a World, the session factory (to ask the
    services the same question) and a token for the classmate too."""

    def classmate_token(session, w):
        _, w.other_token = credentials.create_api_token(
            session, Actor.local_staff("tests"), person_id=w.other.id, name="t", clock=clock
        )

    for client, w in _served(course_engines(backend), clock, prepare=classmate_token):
        yield client, w, w.sessions


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


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
