"""Bad input over the API (issue 3): "unknown ids, dates out of range, a fourth slack day or a
second one on the same assignment, a seventh group member, overlapping reservations, a
submission after the applied deadline: each answered with a 4xx and a message naming the
rule, nothing stored"."""

from __future__ import annotations

from datetime import timedelta

NONE_USED = {"external_code": "none", "sources": "none", "ai_assistance": "none"}


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _ledger(client, world) -> list:
    return client.get("/api/slack-days", headers=_as(world.staff_token)).json()


def test_a_fourth_slack_day_is_refused_naming_the_rule(api_world):
    client, world = api_world
    me = _as(world.student_token)
    for key in ("A1", "A2", "A3"):
        answer = client.post(
            f"/api/groups/{world.group_a.id}/slack-days", headers=me, json={"assignment": key}
        )
        assert answer.status_code == 201, answer.text
    before = _ledger(client, world)
    answer = client.post(
        f"/api/groups/{world.group_a.id}/slack-days", headers=me, json={"assignment": "A4"}
    )
    assert answer.status_code == 409
    assert "used all 3 slack days" in answer.json()["error"]["message"]
    assert _ledger(client, world) == before


def test_a_second_slack_day_on_one_assignment_is_refused(api_world):
    client, world = api_world
    me = _as(world.student_token)
    client.post(f"/api/groups/{world.group_a.id}/slack-days", headers=me, json={"assignment": "A2"})
    before = _ledger(client, world)
    answer = client.post(
        f"/api/groups/{world.group_a.id}/slack-days", headers=me, json={"assignment": "A2"}
    )
    assert answer.status_code == 409
    assert "at most one slack day per assignment" in answer.json()["error"]["message"]
    assert _ledger(client, world) == before


def test_a_seventh_group_member_is_refused(api_world):
    client, world = api_world
    staff = _as(world.staff_token)
    newcomers = [
        client.post(
            "/api/people", headers=staff, json={"name": f"New {i}", "email": f"new{i}@example.edu"}
        ).json()
        for i in range(2)
    ]
    for person_id in (world.loner.id, newcomers[0]["id"]):
        answer = client.post(
            f"/api/people/{person_id}/move", headers=staff, json={"group_id": world.group_a.id}
        )
        assert answer.status_code == 200, answer.text
    answer = client.post(
        f"/api/people/{newcomers[1]['id']}/move", headers=staff, json={"group_id": world.group_a.id}
    )
    assert answer.status_code == 409
    assert "already has 6 members" in answer.json()["error"]["message"]
    group = client.get(f"/api/groups/{world.group_a.id}", headers=staff).json()
    assert len(group["members"]) == 6


def test_an_overlapping_reservation_is_refused(api_world, clock):
    client, world = api_world
    start = clock.now() + timedelta(days=1, hours=2)
    answer = client.post(
        "/api/reservations",
        headers=_as(world.student_token),
        json={
            "node_ids": [world.group_a.node_id, world.group_b.node_id],
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=3)).isoformat(),
        },
    )
    assert answer.status_code == 409
    assert "already reserved" in answer.json()["error"]["message"]
    listed = client.get("/api/reservations", headers=_as(world.staff_token)).json()
    assert len(listed) == 1


def test_a_submission_after_the_applied_deadline_is_refused(api_world, clock):
    client, world = api_world
    clock.advance(days=7)  # Feb 12: A1 was due Feb 10 23:59, more than 24 hours ago
    answer = client.post(
        "/api/submissions",
        headers=_as(world.student_token),
        json={"assignment": "A1", "integrity": NONE_USED, "confirm_slack_day": True},
    )
    assert answer.status_code == 409
    assert "approved exception" in answer.json()["error"]["message"]
    assert client.get("/api/submissions", headers=_as(world.student_token)).json() == []


def test_a_late_submission_without_confirmation_asks_for_the_slack_day(api_world, clock):
    client, world = api_world
    clock.advance(days=6, hours=4)  # Feb 11 16:00, within 24 hours of the A1 deadline
    answer = client.post(
        "/api/submissions",
        headers=_as(world.student_token),
        json={"assignment": "A1", "integrity": NONE_USED},
    )
    assert answer.status_code == 409
    assert answer.json()["error"]["field"] == "confirm_slack_day"
    answer = client.post(
        "/api/submissions",
        headers=_as(world.student_token),
        json={"assignment": "A1", "integrity": NONE_USED, "confirm_slack_day": True},
    )
    assert answer.status_code == 201 and answer.json()["slack_day_used"]


def test_unknown_ids_are_404_naming_the_field(api_world):
    client, world = api_world
    staff = _as(world.staff_token)
    for path in ("/api/people/99999", "/api/groups/99999", "/api/reservations/99999"):
        answer = client.get(path, headers=staff)
        assert answer.status_code == 404, path
        assert answer.json()["error"]["message"].startswith("no ")
    answer = client.post("/api/groups/99999/slack-days", headers=staff, json={"assignment": "A1"})
    assert answer.status_code == 404 and answer.json()["error"]["field"] == "group"


def test_dates_out_of_range_are_refused(api_world):
    client, world = api_world
    answer = client.post(
        "/api/reservations",
        headers=_as(world.student_token),
        json={
            "node_ids": [world.group_a.node_id, world.group_b.node_id],
            "starts_at": "1999-01-01T00:00:00Z",
            "ends_at": "1999-01-02T00:00:00Z",
        },
    )
    assert answer.status_code == 422 and answer.json()["error"]["field"] == "starts_at"
    answer = client.post(
        "/api/lectures/L3/move", headers=_as(world.staff_token), json={"day": "2026-08-04"}
    )
    assert answer.status_code == 400 and "outside the term" in answer.json()["error"]["message"]


def test_a_missing_integrity_statement_is_refused(api_world):
    client, world = api_world
    answer = client.post(
        "/api/submissions",
        headers=_as(world.student_token),
        json={"assignment": "A1", "integrity": {"external_code": "none"}},
    )
    assert answer.status_code == 422
