"""Nodes and multi-node reservations: who may reach which node, and when.

Syllabus, "Infrastructure": one 8xH100 node per group with a static IP; "if your project
requires more than one node, you must coordinate with another team to share nodes for a
bounded window of time ... coordinating host files and access rules across multiple team
IPs". The rules are :mod:`scalable_ai.course.policy.nodes`: a reservation needs every owning
group's consent, never overlaps another reservation of the same node, and grants nothing
outside its window. The node rows are locked while a reservation is checked and stored, so
two concurrent requests cannot both take the same window.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock, in_words
from scalable_ai.course.db import take_write_lock
from scalable_ai.course.policy import groups as group_rules
from scalable_ai.course.policy import nodes as rules
from scalable_ai.course.service.actors import (
    Actor,
    current_group_id,
    require_member_or_staff,
    require_staff,
)
from scalable_ai.course.service.course import node_by_id, row_by_id, settings_of
from scalable_ai.course.tables import Group, Node, Reservation, ReservationNode, SshKey
from scalable_ai.errors import Conflict, Forbidden, NotFound, UserError


def policy_node(node: Node) -> rules.Node:
    return rules.Node(node.name, node.external_ip, node.gpus)


def policy_reservation(row: Reservation) -> rules.Reservation:
    return rules.Reservation(
        id=str(row.id),
        nodes=tuple(n.node.name for n in row.nodes),
        owners={n.node.name: n.group.name for n in row.nodes},
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        consents=frozenset(n.group.name for n in row.nodes if n.consented_at is not None),
        requested_by=str(row.requested_by_id or ""),
        cancelled=row.cancelled_at is not None,
    )


def _snapshot(row: Reservation) -> dict[str, object]:
    data = audit.snapshot(row) or {}
    data["nodes"] = [
        {
            "node": n.node.name,
            "group": n.group.name,
            "consented_at": n.consented_at.isoformat() if n.consented_at else None,
        }
        for n in row.nodes
    ]
    return data


def list_nodes(session: Session, actor: Actor) -> Sequence[Node]:
    """The node pool (names and IPs are shared knowledge: multi-node work needs them)."""
    return session.scalars(select(Node).order_by(Node.id)).all()


def node_owner(session: Session, node_id: int) -> Group | None:
    return session.scalar(select(Group).where(Group.node_id == node_id))


def set_node_ip(session: Session, actor: Actor, node_id: int, *, ip: str, clock: Clock) -> Node:
    """Staff record a node's real static IP (the seed ships placeholders)."""
    require_staff(actor, "change node addresses")
    node = node_by_id(session, node_id)
    rules.check_ip(ip, field="ip")
    clash = session.scalar(select(Node.id).where(Node.external_ip == ip, Node.id != node.id))
    if clash:
        raise Conflict(f"another node already has IP {ip}", field="ip")
    before = audit.snapshot(node)
    node.external_ip = ip
    audit.record(session, actor, "node.ip", node, before=before, at=clock.now())
    return node


def _reservations(session: Session) -> list[Reservation]:
    return list(session.scalars(select(Reservation).order_by(Reservation.id)))


def request_reservation(
    session: Session,
    actor: Actor,
    *,
    node_ids: Sequence[int],
    starts_at: datetime,
    ends_at: datetime,
    purpose: str = "",
    clock: Clock,
) -> Reservation:
    """Ask to join these nodes for ``[starts_at, ends_at)``. A student must own one of the
    nodes (through their group), whose consent is recorded with the request; the other
    owning groups consent separately."""
    wanted = sorted(set(node_ids))
    if len(wanted) != len(node_ids):
        raise UserError("a node appears twice", field="node_ids")
    take_write_lock(session)
    nodes = list(
        session.scalars(select(Node).where(Node.id.in_(wanted)).order_by(Node.id).with_for_update())
    )
    missing = set(wanted) - {n.id for n in nodes}
    if missing:
        raise NotFound(f"no node with id {min(missing)}", field="node_ids")
    owners = {n.id: node_owner(session, n.id) for n in nodes}
    mine = current_group_id(session, actor.person_id) if actor.person_id else None
    if not actor.is_staff and mine not in {g.id for g in owners.values() if g}:
        raise Forbidden(
            "you may only reserve nodes together with your own group's node", field="node_ids"
        )
    for node in nodes:
        if owners[node.id] is None:
            raise UserError(f"{node.name} is not assigned to any group", field="node_ids")
        if node.down_since is not None:
            raise Conflict(
                f"{node.name} is down ({node.down_reason}); staff will say when it is back",
                field="node_ids",
            )
    row = Reservation(
        starts_at=starts_at,
        ends_at=ends_at,
        purpose=purpose.strip(),
        rendezvous_id=secrets.token_hex(8),
        requested_by_id=actor.person_id,
        created_at=clock.now(),
    )
    now = clock.now()
    for node in nodes:
        owner = owners[node.id]
        assert owner is not None  # checked above
        ours = owner.id == mine
        row.nodes.append(
            ReservationNode(
                node=node,
                group=owner,
                consented_at=now if ours else None,
                consented_by_id=actor.person_id if ours else None,
            )
        )
    candidate = policy_reservation(row)
    rules.check_reservation(
        candidate,
        [policy_reservation(r) for r in _reservations(session)],
        settings_of(session),
        now=clock.now(),
    )
    session.add(row)
    session.flush()
    _ask_consent(session, row, clock)
    audit.record(
        session,
        actor,
        "reservation.request",
        row,
        before=None,
        after=_snapshot(row),
        at=clock.now(),
    )
    return row


def _ask_consent(session: Session, row: Reservation, clock: Clock) -> None:
    """The groups whose consent is still missing hear of the request (issue 13)."""
    from scalable_ai.course.notify.events import members_of, notify

    waiting = {n.group_id for n in row.nodes if n.consented_at is None}
    nodes = ", ".join(n.node.name for n in row.nodes)
    notify(
        session,
        members_of(session, waiting),
        kind="consent",
        title=f"Consent asked: {nodes} from {in_words(row.starts_at)} to {in_words(row.ends_at)}",
        body=row.purpose,
        link="/nodes",
        at=clock.now(),
    )


def set_node_down(
    session: Session, actor: Actor, node_id: int, *, down: bool, reason: str = "", clock: Clock
) -> Node:
    """Staff mark a node down (with the reason) or back up. The group that owns it and the
    groups with a reservation on it still to come hear of it (issue 13); a down node takes
    no new reservations."""
    require_staff(actor, "mark nodes down")
    node = node_by_id(session, node_id)
    reason = reason.strip()
    if down and not reason:
        raise UserError("say why the node is down (students read it)", field="reason")
    if down == (node.down_since is not None):
        raise Conflict(f"{node.name} is already {'down' if down else 'up'}", field="down")
    before = audit.snapshot(node)
    node.down_since, node.down_reason = (clock.now(), reason) if down else (None, "")
    audit.record(session, actor, "node.health", node, before=before, at=clock.now())
    groups = {g.id for g in [node_owner(session, node.id)] if g is not None}
    for row in _reservations(session):
        live = row.cancelled_at is None and row.ends_at > clock.now()
        if live and any(n.node_id == node.id for n in row.nodes):
            groups |= {n.group_id for n in row.nodes}
    from scalable_ai.course.notify.events import members_of, notify

    notify(
        session,
        members_of(session, groups),
        kind="node",
        title=f"{node.name} is down: {reason}" if down else f"{node.name} is back up",
        body="Reservations on it may not run; staff will say when it is back."
        if down
        else "It takes reservations again.",
        link="/nodes",
        at=clock.now(),
    )
    return node


def get_reservation(session: Session, actor: Actor, reservation_id: int) -> Reservation:
    """One reservation: staff, or a member of one of its groups."""
    row = row_by_id(session, Reservation, reservation_id, what="reservation", field="reservation")
    if not actor.is_staff:
        mine = current_group_id(session, actor.person_id) if actor.person_id else None
        if mine not in {n.group_id for n in row.nodes}:
            raise Forbidden(
                "only the reservation's groups and staff may see it", field="reservation"
            )
    return row


def consent_to_reservation(
    session: Session, actor: Actor, reservation_id: int, *, clock: Clock
) -> Reservation:
    """A member of an owning group gives that group's consent."""
    row = get_reservation(session, actor, reservation_id)
    mine = current_group_id(session, actor.person_id) if actor.person_id else None
    if mine is None:
        raise Forbidden("only a member of an owning group can consent", field="reservation")
    before = _snapshot(row)
    group = session.get(Group, mine)
    rules.consent(policy_reservation(row), group.name if group else "")
    for entry in row.nodes:
        if entry.group_id == mine and entry.consented_at is None:
            entry.consented_at = clock.now()
            entry.consented_by_id = actor.person_id
    audit.record(
        session,
        actor,
        "reservation.consent",
        row,
        before=before,
        after=_snapshot(row),
        at=clock.now(),
    )
    return row


def cancel_reservation(
    session: Session, actor: Actor, reservation_id: int, *, clock: Clock
) -> Reservation:
    """Staff, or a member of one of its groups, cancel a reservation (it then grants nothing)."""
    row = get_reservation(session, actor, reservation_id)
    if row.cancelled_at is not None:
        raise Conflict("this reservation was already cancelled", field="reservation")
    before = _snapshot(row)
    row.cancelled_at = clock.now()
    row.cancelled_by_id = actor.person_id
    audit.record(
        session,
        actor,
        "reservation.cancel",
        row,
        before=before,
        after=_snapshot(row),
        at=clock.now(),
    )
    return row


def override_consent(
    session: Session, actor: Actor, reservation_id: int, *, reason: str, clock: Clock
) -> Reservation:
    """Staff grant a reservation without waiting for the other groups' consent (a deadline
    crunch, an absent group), recording each missing consent as given by them, with the
    reason in the audit log. The overlap rule still holds: the policy checks the window
    against every other granted reservation first."""
    require_staff(actor, "override a reservation's consent")
    if not reason.strip():
        raise UserError("an override records its reason", field="reason")
    row = get_reservation(session, actor, reservation_id)
    if row.cancelled_at is not None:
        raise Conflict("this reservation was cancelled", field="reservation")
    others = [policy_reservation(r) for r in _reservations(session) if r.id != row.id]
    rules.check_reservation(policy_reservation(row), others)
    before = _snapshot(row)
    for entry in row.nodes:
        if entry.consented_at is None:
            entry.consented_at = clock.now()
            entry.consented_by_id = actor.person_id
    audit.record(
        session,
        actor,
        "reservation.override",
        row,
        before=before,
        after={**_snapshot(row), "reason": reason.strip()},
        at=clock.now(),
    )
    return row


def list_reservations(session: Session, actor: Actor) -> list[Reservation]:
    """Staff see all; a student those involving their group."""
    rows = _reservations(session)
    if actor.is_staff:
        return rows
    mine = current_group_id(session, actor.person_id) if actor.person_id else None
    return [r for r in rows if mine in {n.group_id for n in r.nodes}]


def reservation_plan(
    session: Session, actor: Actor, reservation_id: int, *, clock: Clock
) -> rules.ReservationPlan:
    """Hostfile, torchrun arguments and firewall rules, only inside the active window."""
    row = get_reservation(session, actor, reservation_id)
    nodes = [policy_node(n.node) for n in row.nodes]
    return rules.reservation_plan(policy_reservation(row), nodes, clock.now(), settings_of(session))


def authorized_keys(session: Session, actor: Actor, node_id: int, *, clock: Clock) -> str:
    """The node's ``authorized_keys``: its group's keys, and during an active reservation
    the partner groups' keys (staff, or a member of the owning group)."""
    node = node_by_id(session, node_id)
    owner = node_owner(session, node.id)
    if owner is None:
        raise UserError(f"{node.name} is not assigned to any group", field="node")
    require_member_or_staff(session, actor, owner.id, "see this node's access")
    keys: dict[str, list[tuple[str, group_rules.SshPublicKey]]] = {}
    for group in session.scalars(select(Group)):
        for person in group.members:
            for key in session.scalars(
                select(SshKey)
                .where(SshKey.person_id == person.id, SshKey.revoked_at.is_(None))
                .order_by(SshKey.id)
            ):
                keys.setdefault(group.name, []).append(
                    (person.email, group_rules.parse_ssh_public_key(key.public_key))
                )
    return group_rules.authorized_keys(
        policy_node(node),
        owner.name,
        keys,
        [policy_reservation(r) for r in _reservations(session)],
        clock.now(),
    )
