"""Staff actions (issue 13): "0 for every missing group" on an assignment's hand-ins page,
marking a node down (its groups hear of it, it takes no new reservations) and back up, and
the instructor's settings page (Ed / Gradescope links; requiring OpenID Connect is refused
while no provider is configured, since it would lock everyone out)."""

from __future__ import annotations

import html
import re

from sqlalchemy import select

from scalable_ai.course.db import unit_of_work
from scalable_ai.course.demo import DEMO_CREDENTIALS
from scalable_ai.course.notify import events
from scalable_ai.course.service.course import settings_of
from scalable_ai.course.tables import Node, Person, Score
from tests.web.conftest import post_form, sign_in

STAFF = next(c for c in DEMO_CREDENTIALS if c[0] == "staff")
STUDENT = next(c for c in DEMO_CREDENTIALS if c[0] == "student")


def _flash(page: str) -> str:
    match = re.search(r'class="flash flash-(?:ok|error)" role="(?:status|alert)">([^<]*)', page)
    assert match, "no message on the page"
    return html.unescape(match.group(1))


def test_zero_for_every_missing_group_keeps_scores_already_entered(demo_platform):
    client = demo_platform.client
    demo_platform.set_clock("2026-03-25T12:00")  # A3 (due Mar 10) is past for everyone
    sign_in(client, *STAFF[1:])
    page = client.get("/staff/assignments/A3").text
    missing = int(re.search(r"(\d+) missing</span>", page).group(1))
    assert missing > 0 and "Give 0 to the" in page
    post_form(client, "/staff/assignments/A3", "/staff/assignments/A3/zero-missing")
    page = client.get("/staff/assignments/A3").text
    assert _flash(page).startswith(f"0 recorded for {missing} missing group(s)")
    with unit_of_work(demo_platform.engine) as session:
        zeros = session.scalars(
            select(Score).where(Score.item == "A3.code", Score.points == 0)
        ).all()
        assert zeros and all(z.comment.startswith("missing") for z in zeros)
        assert not session.scalars(select(Score).where(Score.item == "A3.enhancement")).all()
    # a second press changes nothing already scored
    post_form(client, "/staff/assignments/A3", "/staff/assignments/A3/zero-missing")
    with unit_of_work(demo_platform.engine) as session:
        assert len(
            session.scalars(select(Score).where(Score.item == "A3.code", Score.points == 0)).all()
        ) == len(zeros)


def test_a_node_marked_down_tells_its_group_and_takes_no_reservations(demo_platform):
    client = demo_platform.client
    sign_in(client, *STAFF[1:])
    with unit_of_work(demo_platform.engine) as session:
        node = session.scalars(select(Node).order_by(Node.id)).first()
        node_id, name = node.id, node.name
    refused = post_form(client, "/staff/nodes", f"/staff/nodes/{node_id}/health", {"down": "yes"})
    assert refused.status_code == 303
    assert "say why the node is down" in client.get("/staff/nodes").text
    post_form(
        client,
        "/staff/nodes",
        f"/staff/nodes/{node_id}/health",
        {"down": "yes", "reason": "GPU 3 ECC errors"},
    )
    page = client.get("/staff/nodes").text
    assert f"{name} marked down; its groups are notified." in html.unescape(page)
    assert f"Mark {name} up" in page
    with unit_of_work(demo_platform.engine) as session:
        from scalable_ai.course.service.nodes import node_owner

        owner = node_owner(session, node_id)
        member = owner.members[0]
        assert events.inbox(session, member.id)[0].title == f"{name} is down: GPU 3 ECC errors"
    post_form(client, "/staff/nodes", f"/staff/nodes/{node_id}/health", {"down": "no"})
    assert f"Mark {name} down" in client.get("/staff/nodes").text


def test_instructor_settings_switch_ed_and_refuse_oidc_without_a_provider(demo_platform):
    client = demo_platform.client
    sign_in(client, *STAFF[1:])
    assert "Require CalNet sign-in" in client.get("/staff/settings").text
    post_form(
        client,
        "/staff/settings",
        "/staff/settings",
        {"ed_url": "https://edstem.org/us/courses/1234", "gradescope_url": ""},
    )
    assert _flash(client.get("/staff/settings").text) == "Course settings saved."
    assert "https://edstem.org/us/courses/1234" in client.get("/course").text
    post_form(client, "/staff/settings", "/staff/settings", {"require_oidc": "on"})
    assert "would lock everyone out" in client.get("/staff/settings").text
    with unit_of_work(demo_platform.engine) as session:
        assert not settings_of(session).require_oidc
    post_form(client, "/staff/settings", "/staff/settings", {"ed_url": "http://plain.example"})
    assert "https://" in _flash(client.get("/staff/settings").text)
    # students may not
    client.cookies.clear()
    sign_in(client, *STUDENT[1:])
    assert client.get("/staff/settings").status_code == 403
    with unit_of_work(demo_platform.engine) as session:
        assert session.scalar(select(Person.id).where(Person.email == STUDENT[1]))
