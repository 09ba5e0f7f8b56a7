"""The JSON API of Q&A at Ed's level and of notifications (issue 13), on SQLite and
PostgreSQL: the board's filters, search and pages; editing and deleting one's own posts only
(staff any, and only staff read the earlier versions); resolving, following and reading a
thread; one's own notifications, the unread count, marking read and the settings. The API
keeps the pages' rules because it calls the same services."""

from __future__ import annotations

from tests.course.test_community_api import World, world  # noqa: F401  (the fixture)


def _as(client, token: str):
    return {"Authorization": f"Bearer {token}"}


def _ask(client, w: World, title: str, body: str) -> int:
    made = client.post(
        "/api/threads",
        json={"category": "A2", "title": title, "body": body},
        headers=_as(client, w.student_token),
    )
    assert made.status_code == 201, made.text
    return made.json()["id"]


def test_the_board_filters_searches_and_pages_as_the_qa_page_does(world):  # noqa: F811
    client, w = world
    me = _as(client, w.student_token)
    mine = [_ask(client, w, f"Loss spikes {i}", f"at step {i}00 the gradients explode") for i in (1, 2, 3)]  # fmt: skip
    board = client.get("/api/board", headers=me).json()
    ids = [t["id"] for t in board["threads"]]
    assert set(mine) <= set(ids) and w.private.id not in ids  # another's private question
    assert board["page"] == 1 and board["pages"] == 1 and board["total"] == len(ids)
    assert next(t for t in board["threads"] if t["id"] == mine[0])["mine"] is True
    assert next(t for t in board["threads"] if t["id"] == mine[0])["following"] is True

    second = client.get("/api/board?per_page=2&page=2", headers=me).json()
    assert second["page"] == 2 and second["pages"] == -(-board["total"] // 2)
    assert [t["id"] for t in second["threads"]] == ids[2:4]

    unanswered = client.get("/api/board?show=unanswered&category=A2", headers=me).json()
    assert sorted(t["id"] for t in unanswered["threads"]) == sorted(mine)
    answered = client.get("/api/board?show=answered", headers=me).json()
    assert [t["id"] for t in answered["threads"]] == [w.public.id]

    found = client.get("/api/board?q=exploding+gradient", headers=me).json()  # stemmed
    assert {t["id"] for t in found["threads"]} == set(mine)
    refused = client.get("/api/board?show=everything", headers=me)
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "show"


def test_only_the_author_or_staff_edit_or_delete_and_only_staff_read_the_history(world):  # noqa: F811
    client, w = world
    me, staff = _as(client, w.student_token), _as(client, w.staff_token)
    thread_id = _ask(client, w, "NaN loss", "loss is NaN at step 300")

    edited = client.patch(
        f"/api/threads/{thread_id}", json={"title": "NaN loss", "body": "fixed: LR 10x"}, headers=me
    )
    assert edited.status_code == 200 and edited.json()["edited"] is True
    assert "fixed" in edited.json()["body_html"]
    another = {"title": "x", "body": "y"}
    assert client.patch(f"/api/threads/{w.public.id}", json=another, headers=me).status_code == 403
    assert (
        client.patch(f"/api/posts/{w.post.id}", json={"body": "x"}, headers=me).status_code == 403
    )
    assert client.delete(f"/api/posts/{w.post.id}", headers=me).status_code == 403

    assert client.get(f"/api/threads/{thread_id}/history", headers=me).status_code == 403
    history = client.get(f"/api/threads/{thread_id}/history", headers=staff).json()
    assert [(h["action"], h["body"]) for h in history] == [("edit", "loss is NaN at step 300")]

    moderated = client.patch(f"/api/posts/{w.post.id}", json={"body": "see the FAQ"}, headers=staff)
    assert moderated.status_code == 200 and moderated.json()["id"] == w.post.id
    assert client.delete(f"/api/threads/{thread_id}", headers=me).status_code == 204
    board = client.get("/api/board", headers=me).json()
    assert thread_id not in [t["id"] for t in board["threads"]]
    kept = client.get(f"/api/threads/{thread_id}/history", headers=staff).json()
    assert [h["action"] for h in kept] == ["edit", "delete"]


def test_the_asker_or_staff_resolve_and_anyone_follows_and_reads(world):  # noqa: F811
    client, w = world
    me, staff = _as(client, w.student_token), _as(client, w.staff_token)
    on = {"resolved": True}
    assert (
        client.put(f"/api/threads/{w.public.id}/resolved", json=on, headers=me).status_code == 403
    )
    resolved = client.put(f"/api/threads/{w.public.id}/resolved", json=on, headers=staff).json()
    assert resolved["resolved"] is True
    shown = client.get("/api/board?show=resolved", headers=me).json()
    assert [t["id"] for t in shown["threads"]] == [w.public.id]

    state = client.put(
        f"/api/threads/{w.public.id}/following", json={"following": True}, headers=me
    ).json()
    assert state["following"] is True and state["unread"] is True
    assert client.post(f"/api/threads/{w.public.id}/read", headers=me).json()["unread"] is False
    assert client.get("/api/board?show=unread", headers=me).json()["total"] == len(
        [t for t in client.get("/api/board", headers=me).json()["threads"] if t["unread"]]
    )
    following = client.get("/api/board?show=following", headers=me).json()
    assert w.public.id in [t["id"] for t in following["threads"]]
    assert client.post(f"/api/threads/{w.private.id}/read", headers=me).status_code == 404


def test_each_person_reads_and_marks_only_their_own_notifications(world):  # noqa: F811
    client, w = world
    me, staff = _as(client, w.student_token), _as(client, w.staff_token)
    assert client.get("/api/notifications/unread", headers=me).json() == {"unread": 0}
    client.post(
        "/api/announcements",
        json={"title": "Office hours moved", "body": "Soda 380"},
        headers=staff,
    )
    assert client.get("/api/notifications/unread", headers=me).json() == {"unread": 1}
    [told] = client.get("/api/notifications?unread=true", headers=me).json()
    assert told["kind"] == "announcement" and told["title"].endswith("Office hours moved")
    assert client.get("/api/notifications", headers=staff).json() == []  # not the author's

    # another person's notification is as absent as one that does not exist
    refused = client.post("/api/notifications/read", json={"id": told["id"]}, headers=staff)
    assert refused.status_code == 404
    marked = client.post("/api/notifications/read", json={"id": told["id"]}, headers=me).json()
    assert marked == {"marked": 1, "unread": 0}
    assert client.post("/api/notifications/read", json={}, headers=me).json()["marked"] == 0

    assert client.get("/api/notifications/settings", headers=me).json()["email"] == "digest"
    saved = client.put(
        "/api/notifications/settings",
        json={"email": "off", "muted": ["announcement"]},
        headers=me,
    )
    assert saved.status_code == 200 and saved.json()["muted"] == ["announcement"]
    client.post("/api/announcements", json={"title": "Quiet", "body": "x"}, headers=staff)
    assert client.get("/api/notifications/unread", headers=me).json() == {"unread": 0}
    bad = client.put("/api/notifications/settings", json={"email": "pigeon"}, headers=me)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "email"
    assert client.get("/api/notifications").status_code == 401
