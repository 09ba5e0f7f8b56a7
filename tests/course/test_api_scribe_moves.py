"""Staff move a scribe by hand over the API (issue 4: "scribe ... assignment (run, inspect,
adjust)"): a move that leaves its lecture with no scribe is made, and the answer says so in
``left_without_scribe`` and ``warning``. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter


def test_a_move_leaving_a_lecture_without_a_scribe_is_made_and_the_answer_warns(api_world):
    client, world = api_world
    staff = {"Authorization": f"Bearer {world.staff_token}"}
    scribes = client.get("/api/scribes", headers=staff).json()
    on_lecture = Counter(s["lecture_id"] for s in scribes)
    alone = next(s for s in scribes if on_lecture[s["lecture_id"]] == 1)
    mine = {s["lecture_key"] for s in scribes if s["person_id"] == alone["person_id"]}
    target = next(s["lecture_key"] for s in scribes if s["lecture_key"] not in mine)
    answer = client.post(
        f"/api/scribes/{alone['id']}/move", json={"lecture": target}, headers=staff
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["lecture"] == body["scribe"]["lecture_key"] == target
    assert body["left_without_scribe"] == alone["lecture_key"]
    assert body["warning"].startswith(f"{alone['lecture_key']} (")
    assert "no scribe" in body["warning"]
    after = client.get("/api/scribes", headers=staff).json()
    assert alone["lecture_id"] not in {s["lecture_id"] for s in after}
