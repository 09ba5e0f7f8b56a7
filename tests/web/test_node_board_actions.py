"""The node board lets staff act (issue 13: "the node board is read-only (no override,
cancel, or node health)"): grant a waiting reservation without consent, with a reason, and
cancel any reservation."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from scalable_ai.course.db import unit_of_work
from scalable_ai.course.demo import DEMO_CREDENTIALS
from scalable_ai.course.tables import AuditEntry, Reservation
from tests.web.conftest import post_form, sign_in

STAFF = next(c for c in DEMO_CREDENTIALS if c[0] == "staff")
STUDENT = next(c for c in DEMO_CREDENTIALS if c[0] == "student")


def _flash(page: str) -> str:
    match = re.search(r'class="flash flash-(?:ok|error)" role="(?:status|alert)">([^<]*)', page)
    assert match, "no message on the page"
    return html.unescape(match.group(1))


def test_staff_grant_a_waiting_reservation_with_a_reason_and_cancel_one(demo_platform):
    sign_in(demo_platform.client, *STAFF[1:])
    board = demo_platform.client.get("/staff/nodes").text
    waiting = re.search(r'action="/staff/nodes/reservations/(\d+)/override"', board).group(1)
    post_form(
        demo_platform.client,
        "/staff/nodes",
        f"/staff/nodes/reservations/{waiting}/override",
        {"reason": " "},
    )
    assert _flash(demo_platform.client.get("/staff/nodes").text) == (
        "an override records its reason"
    )
    post_form(
        demo_platform.client,
        "/staff/nodes",
        f"/staff/nodes/reservations/{waiting}/override",
        {"reason": "deadline crunch, partner group away"},
    )
    board = demo_platform.client.get("/staff/nodes").text
    assert "granted by staff without waiting for consent" in _flash(board)
    with unit_of_work(demo_platform.engine) as session:
        row = session.get(Reservation, int(waiting))
        assert row.consented
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "reservation.override")
        ).one()
        assert entry.after["reason"] == "deadline crunch, partner group away"
    post_form(demo_platform.client, "/staff/nodes", f"/staff/nodes/reservations/{waiting}/cancel")
    assert "cancelled" in _flash(demo_platform.client.get("/staff/nodes").text)
    with unit_of_work(demo_platform.engine) as session:
        assert session.get(Reservation, int(waiting)).cancelled_at is not None


def test_students_cannot_use_the_staff_node_actions(demo_platform):
    sign_in(demo_platform.client, *STUDENT[1:])
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', demo_platform.client.get("/nodes").text
    ).group(1)
    answer = demo_platform.client.post(
        "/staff/nodes/reservations/1/cancel", data={"csrf_token": token}
    )
    assert answer.status_code == 403
