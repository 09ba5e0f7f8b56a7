"""Syllabus, "Multi-node experiments": share nodes "for a bounded window of time",
"coordinating host files and access rules across multiple team IPs"."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta

import pytest

from scalable_ai.course.clock import BERKELEY
from scalable_ai.course.policy.nodes import (
    Node,
    Reservation,
    access_rules,
    check_reservation,
    consent,
    firewall_script,
    hostfile,
    reservation_plan,
)
from scalable_ai.errors import Conflict, Forbidden, UserError

NODES = {f"node-{i}": Node(f"node-{i}", f"203.0.113.{10 + i}") for i in range(1, 9)}
OWNERS = {f"node-{i}": f"g{i}" for i in range(1, 9)}
START = datetime(2026, 4, 1, 9, 0, tzinfo=BERKELEY)
END = START + timedelta(hours=12)


def reservation(
    rid="r1", nodes=("node-1", "node-2"), start=START, end=END, consents=("g1", "g2")
) -> Reservation:
    return Reservation(rid, tuple(nodes), OWNERS, start, end, frozenset(consents))


def test_a_reservation_joins_two_or_more_nodes():
    with pytest.raises(UserError, match="two or more") as info:
        check_reservation(reservation(nodes=("node-1",)), [])
    assert info.value.field == "nodes"
    check_reservation(reservation(nodes=("node-1", "node-2", "node-3")), [])


def test_a_reservation_is_a_bounded_window():
    with pytest.raises(UserError, match="end after it starts"):
        check_reservation(reservation(end=START), [])
    with pytest.raises(UserError, match="at most 72 hours"):
        check_reservation(reservation(end=START + timedelta(days=4)), [])


def test_a_reservation_cannot_be_requested_for_a_window_already_begun():
    with pytest.raises(UserError, match="cannot start in the past") as info:
        check_reservation(reservation(), [], now=START + timedelta(minutes=1))
    assert info.value.field == "starts_at"
    check_reservation(reservation(), [], now=START)


def test_nobody_consents_to_a_cancelled_reservation():
    with pytest.raises(Conflict, match="was cancelled") as info:
        consent(dataclasses.replace(reservation(consents=("g1",)), cancelled=True), "g2")
    assert info.value.field == "reservation"


def test_reservations_of_the_same_node_never_overlap():
    first = reservation()
    overlapping = reservation(
        "r2",
        ("node-2", "node-3"),
        START + timedelta(hours=11),
        END + timedelta(hours=5),
        ("g2", "g3"),
    )
    with pytest.raises(Conflict, match="node-2 is already reserved"):
        check_reservation(overlapping, [first])
    back_to_back = dataclasses.replace(overlapping, starts_at=END, ends_at=END + timedelta(hours=1))
    check_reservation(back_to_back, [first])
    other_nodes = reservation("r3", ("node-5", "node-6"), consents=("g5", "g6"))
    check_reservation(other_nodes, [first])


def test_a_reservation_needs_every_owning_groups_consent():
    pending = reservation(consents=("g1",))
    assert pending.missing_consents == ("g2",)
    assert not pending.is_active(START + timedelta(hours=1))
    with pytest.raises(Forbidden, match="needs consent from g2"):
        reservation_plan(pending, NODES, START + timedelta(hours=1))
    agreed = consent(pending, "g2")
    assert agreed.is_active(START + timedelta(hours=1))
    with pytest.raises(Forbidden):
        consent(pending, "g7")


def test_outside_its_window_a_reservation_grants_nothing():
    r = reservation()
    assert access_rules(r, NODES, START - timedelta(seconds=1)) == []
    assert access_rules(r, NODES, END) == []
    with pytest.raises(Forbidden, match="active only"):
        reservation_plan(r, NODES, END + timedelta(minutes=1))


def test_hostfile_lists_each_node_ip_with_8_slots():
    plan = reservation_plan(reservation(), NODES, START + timedelta(hours=1))
    assert plan.hostfile == "203.0.113.11 slots=8\n203.0.113.12 slots=8\n"
    assert hostfile([NODES["node-3"]]) == "203.0.113.13 slots=8\n"


def test_torchrun_arguments_rendezvous_on_the_first_node():
    plan = reservation_plan(
        reservation(nodes=("node-4", "node-1", "node-2"), consents=("g1", "g2", "g4")),
        NODES,
        START + timedelta(hours=1),
    )
    assert plan.torchrun_args == [
        "--nnodes",
        "3",
        "--nproc-per-node",
        "8",
        "--rdzv-backend",
        "c10d",
        "--rdzv-endpoint",
        "203.0.113.14:29400",
        "--rdzv-id",
        "sai-r1",
    ]
    assert plan.torchrun_command.startswith("torchrun --nnodes 3")


def test_access_rules_let_each_team_ip_reach_the_other_nodes():
    rules = access_rules(reservation(), NODES, START + timedelta(hours=1))
    pairs = {(r.source_ip, r.node) for r in rules}
    assert pairs == {("203.0.113.12", "node-1"), ("203.0.113.11", "node-2")}
    script = firewall_script(rules, "iptables")
    assert "# on node-1\niptables -A INPUT -s 203.0.113.12 -j ACCEPT" in script
    assert "ufw allow from 203.0.113.11 to any" in firewall_script(rules)


def test_a_node_ip_must_be_an_ip_address():
    with pytest.raises(UserError, match="not an IP address") as info:
        Node("node-9", "203.0.113.999")
    assert info.value.field == "ip"


def test_a_cancelled_reservation_grants_nothing():
    r = dataclasses.replace(reservation(), cancelled=True)
    assert access_rules(r, NODES, START + timedelta(hours=1)) == []
    check_reservation(reservation("r2"), [r])  # and does not block the window


def test_an_overlap_refusal_names_the_times_in_berkeley_words():
    """Issue 13: "node-3 is already reserved from 2026-03-09T16:00:00+00:00" was what
    students read."""
    first = reservation()
    overlapping = reservation("r2", ("node-2", "node-3"), START, END, ("g2", "g3"))
    with pytest.raises(Conflict) as refused:
        check_reservation(overlapping, [first])
    assert "+00:00" not in refused.value.message
    assert re.search(r"from \w{3} \w{3} \d+, \d+:\d\d [AP]M to", refused.value.message)
