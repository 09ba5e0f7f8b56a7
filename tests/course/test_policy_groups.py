"""Syllabus: "Groups of 4–6. 1 H100 node (8×H100) per group (8 total nodes on GCP). Each
group is assigned a single static external IP address for SSH'ing in"."""

from __future__ import annotations

import base64
import struct
from datetime import datetime, timedelta

import pytest

from scalable_ai.course.clock import BERKELEY
from scalable_ai.course.policy.groups import (
    Group,
    accept,
    assign_node,
    authorized_keys,
    confirm_group,
    create_group,
    group_of,
    invite,
    leave,
    move_student,
    parse_ssh_public_key,
    propose_group,
    undersized_groups,
)
from scalable_ai.course.policy.nodes import Node, Reservation
from scalable_ai.errors import Conflict, Forbidden, UserError

DEADLINE = datetime(2026, 1, 29, 23, 59, tzinfo=BERKELEY)
BEFORE = DEADLINE - timedelta(days=3)
AFTER = DEADLINE + timedelta(minutes=1)
NODES = [Node(f"node-{i}", f"203.0.113.{10 + i}") for i in range(1, 9)]


def ssh_key(kind: str = "ssh-ed25519", seed: int = 1, comment: str = "me@laptop") -> str:
    """A well-formed OpenSSH public key line (type string + 32 key bytes)."""
    name = kind.encode()
    blob = struct.pack(">I", len(name)) + name + struct.pack(">I", 32) + bytes([seed]) * 32
    return f"{kind} {base64.b64encode(blob).decode()} {comment}"


def full_group(gid: str, size: int) -> Group:
    return Group(gid, tuple(f"{gid}-s{i}" for i in range(size)))


def test_groups_have_4_to_6_students():
    with pytest.raises(UserError, match="4–6") as info:
        confirm_group(full_group("g1", 3))
    assert info.value.field == "members"
    with pytest.raises(UserError, match="4–6"):
        confirm_group(full_group("g1", 7))
    assert confirm_group(full_group("g1", 4)).confirmed


def test_a_seventh_group_member_is_refused():
    group = full_group("g1", 6)
    with pytest.raises(Conflict, match="already has 6 members"):
        invite(group, "zed", "g1-s0", [group], BEFORE, DEADLINE)


def test_staff_move_a_student_any_time_but_not_into_a_full_group():
    assert move_student("zed", full_group("g1", 5)).members[-1] == "zed"
    assert move_student("zed", None) is None
    with pytest.raises(Conflict, match="already has 6 members") as info:
        move_student("zed", full_group("g1", 6))
    assert info.value.field == "group"


def test_a_student_is_in_at_most_one_group():
    g1, g2 = full_group("g1", 4), full_group("g2", 4)
    with pytest.raises(Conflict, match="at most one group"):
        invite(g1, "g2-s0", "g1-s0", [g1, g2], BEFORE, DEADLINE)
    with pytest.raises(Conflict, match="at most one group"):
        propose_group("g3", ["g1-s0", "a", "b", "c"], [g1, g2], staff="Paul Zhou")
    assert group_of("g2-s0", [g1, g2]) is g2


def test_students_invite_accept_and_leave_before_the_formation_deadline():
    group = create_group("g1", "ana", [], BEFORE, DEADLINE)
    invitation = invite(group, "ben", "ana", [group], BEFORE, DEADLINE)
    group = accept(invitation, group, [group], BEFORE, DEADLINE)
    assert group.members == ("ana", "ben")
    group = leave(group, "ben", BEFORE, DEADLINE)
    assert group.members == ("ana",)


def test_only_members_invite():
    group = full_group("g1", 4)
    with pytest.raises(Forbidden):
        invite(group, "zed", "outsider", [group], BEFORE, DEADLINE)


def test_students_cannot_change_groups_after_the_formation_deadline():
    group = full_group("g1", 4)
    with pytest.raises(Forbidden, match="formation closed"):
        invite(group, "zed", "g1-s0", [group], AFTER, DEADLINE)
    with pytest.raises(Forbidden, match="formation closed"):
        leave(group, "g1-s0", AFTER, DEADLINE)


def test_staff_propose_and_confirm_groups_at_any_time():
    proposed = propose_group("g9", ["a", "b", "c", "d", "e"], [], staff="Haocheng Xi")
    assert proposed.proposed_by == "Haocheng Xi" and not proposed.confirmed
    assert confirm_group(proposed).confirmed


def test_a_group_under_4_at_the_deadline_is_flagged_for_staff():
    groups = [full_group("g1", 4), full_group("g2", 3)]
    assert undersized_groups(groups, BEFORE, DEADLINE) == []
    assert [g.id for g in undersized_groups(groups, AFTER, DEADLINE)] == ["g2"]


def test_one_node_per_group_from_a_pool_of_eight():
    assigned: dict[str, str] = {}
    for i in range(8):
        assigned[f"g{i}"] = assign_node(f"g{i}", NODES, assigned).name
    assert sorted(assigned.values()) == sorted(n.name for n in NODES)
    assert assign_node("g3", NODES, assigned).name == assigned["g3"]  # keeps its node


def test_a_ninth_group_is_refused_naming_the_node_pool():
    assigned = {f"g{i}": f"node-{i + 1}" for i in range(8)}
    with pytest.raises(Conflict, match="node pool has 8 nodes") as info:
        assign_node("g9", NODES, assigned)
    assert info.value.field == "node"


def test_ssh_public_keys_are_validated():
    key = parse_ssh_public_key(ssh_key())
    assert key.kind == "ssh-ed25519" and key.comment == "me@laptop"
    assert key.fingerprint.startswith("SHA256:")
    for bad, reason in [
        ("ssh-ed25519", "expected"),
        ("ssh-dss AAAAB3NzaC1kc3M= x", "unsupported key type"),
        ("ssh-ed25519 not*base64 x", "not valid base64"),
        (ssh_key("ssh-rsa").replace("ssh-rsa", "ssh-ed25519", 1), "not a ssh-ed25519 key"),
        ("-----BEGIN OPENSSH PRIVATE KEY-----", "private key"),
        (ssh_key() + "\n" + ssh_key(seed=2), "one key per line"),
        ('command="rm -rf /" ' + ssh_key(), "unsupported key type"),
    ]:
        with pytest.raises(UserError, match=reason) as info:
            parse_ssh_public_key(bad)
        assert info.value.field == "public_key"


def test_authorized_keys_come_from_the_group_keys():
    keys = {
        "g1": [
            ("ana", parse_ssh_public_key(ssh_key(seed=1))),
            ("ben", parse_ssh_public_key(ssh_key(seed=2))),
        ],
        "g2": [("eve", parse_ssh_public_key(ssh_key(seed=3)))],
    }
    text = authorized_keys(NODES[0], "g1", keys)
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    assert len(lines) == 2 and lines[0].endswith("ana@group-g1")
    assert "eve" not in text


def test_authorized_keys_add_the_partner_group_only_during_an_active_reservation():
    keys = {
        "g1": [("ana", parse_ssh_public_key(ssh_key(seed=1)))],
        "g2": [("eve", parse_ssh_public_key(ssh_key(seed=3)))],
    }
    start = datetime(2026, 4, 1, 9, tzinfo=BERKELEY)
    reservation = Reservation(
        "r1",
        ("node-1", "node-2"),
        {"node-1": "g1", "node-2": "g2"},
        start,
        start + timedelta(hours=6),
        frozenset({"g1", "g2"}),
    )
    during = authorized_keys(NODES[0], "g1", keys, [reservation], start + timedelta(hours=1))
    assert "eve@group-g2" in during and "reservation partner" in during
    after = authorized_keys(NODES[0], "g1", keys, [reservation], start + timedelta(hours=7))
    assert "eve" not in after
