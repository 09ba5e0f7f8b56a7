"""Nodes and multi-node reservations (syllabus, "Infrastructure"; issue 3): every owning
group consents, no overlap on a node, a hostfile/torchrun/firewall plan only inside the
window, and ``authorized_keys`` from the group's keys. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from scalable_ai.course.clock import FixedClock
from scalable_ai.course.service import Actor
from scalable_ai.course.service import nodes as service
from scalable_ai.course.service.credentials import add_ssh_key
from scalable_ai.course.tables import Reservation
from scalable_ai.errors import Conflict, Forbidden, NotFound, UserError

KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ada@laptop"


def _pair(make_group):
    return make_group(4), make_group(4)


def _request(session, group, other, clock, hours=(24, 30)):
    return service.request_reservation(
        session,
        Actor.of(group.members[0]),
        node_ids=[group.node_id, other.node_id],
        starts_at=clock.now() + timedelta(hours=hours[0]),
        ends_at=clock.now() + timedelta(hours=hours[1]),
        purpose="2-node FSDP",
        clock=clock,
    )


def test_a_reservation_needs_every_owning_groups_consent(session, make_group, clock):
    mine, other = _pair(make_group)
    row = _request(session, mine, other, clock)
    inside = FixedClock(clock.now() + timedelta(hours=25))
    with pytest.raises(Forbidden, match="still needs consent"):
        service.reservation_plan(session, Actor.of(mine.members[0]), row.id, clock=inside)
    service.consent_to_reservation(session, Actor.of(other.members[1]), row.id, clock=clock)
    plan = service.reservation_plan(session, Actor.of(mine.members[0]), row.id, clock=inside)
    assert plan.hostfile == f"{mine.node.external_ip} slots=8\n{other.node.external_ip} slots=8\n"
    assert "--rdzv-endpoint" in plan.torchrun_args
    assert plan.torchrun_args[plan.torchrun_args.index("--rdzv-endpoint") + 1] == (
        f"{mine.node.external_ip}:29400"
    )
    assert {r.source_ip for r in plan.access_rules} == {
        mine.node.external_ip,
        other.node.external_ip,
    }


def test_outside_its_window_a_reservation_grants_nothing(session, make_group, clock):
    mine, other = _pair(make_group)
    row = _request(session, mine, other, clock)
    service.consent_to_reservation(session, Actor.of(other.members[0]), row.id, clock=clock)
    after = FixedClock(clock.now() + timedelta(hours=31))
    with pytest.raises(Forbidden, match="active only from"):
        service.reservation_plan(session, Actor.of(mine.members[0]), row.id, clock=after)


def test_overlapping_reservations_of_a_node_are_refused(session, make_group, clock):
    mine, other = _pair(make_group)
    third = make_group(4)
    _request(session, mine, other, clock)
    count = session.scalar(select(func.count()).select_from(Reservation))
    with pytest.raises(Conflict, match="already reserved"):
        _request(session, other, third, clock, hours=(29, 40))
    assert session.scalar(select(func.count()).select_from(Reservation)) == count


def test_a_reservation_window_is_bounded(session, make_group, clock):
    mine, other = _pair(make_group)
    with pytest.raises(UserError, match="bounded window"):
        _request(session, mine, other, clock, hours=(1, 200))
    with pytest.raises(UserError, match="end after it starts"):
        _request(session, mine, other, clock, hours=(5, 2))


def test_a_student_reserves_only_together_with_their_own_node(session, make_group, clock):
    mine, other = _pair(make_group)
    third = make_group(4)
    with pytest.raises(Forbidden):
        service.request_reservation(
            session,
            Actor.of(mine.members[0]),
            node_ids=[other.node_id, third.node_id],
            starts_at=clock.now() + timedelta(hours=1),
            ends_at=clock.now() + timedelta(hours=2),
            clock=clock,
        )


def test_unknown_nodes_are_not_found(session, make_group, clock):
    mine = make_group(4)
    with pytest.raises(NotFound):
        service.request_reservation(
            session,
            Actor.of(mine.members[0]),
            node_ids=[mine.node_id, 999_999],
            starts_at=clock.now() + timedelta(hours=1),
            ends_at=clock.now() + timedelta(hours=2),
            clock=clock,
        )


def test_authorized_keys_hold_the_group_keys_and_partners_during_a_reservation(
    session, make_group, clock
):
    mine, other = _pair(make_group)
    add_ssh_key(
        session,
        Actor.of(other.members[0]),
        person_id=other.members[0].id,
        public_key=KEY,
        clock=clock,
    )
    row = _request(session, mine, other, clock)
    service.consent_to_reservation(session, Actor.of(other.members[0]), row.id, clock=clock)
    me = Actor.of(mine.members[0])
    outside = service.authorized_keys(session, me, mine.node_id, clock=clock)
    inside = service.authorized_keys(
        session, me, mine.node_id, clock=FixedClock(clock.now() + timedelta(hours=25))
    )
    assert "AAAAC3NzaC1lZDI1NTE5AAAAIOMqq" not in outside
    assert "AAAAC3NzaC1lZDI1NTE5AAAAIOMqq" in inside


def test_a_student_sees_only_their_groups_reservations(session, make_group, clock):
    mine, other = _pair(make_group)
    third = make_group(4)
    row = _request(session, mine, other, clock)
    outsider = Actor.of(third.members[0])
    assert service.list_reservations(session, outsider) == []
    with pytest.raises(Forbidden):
        service.get_reservation(session, outsider, row.id)
