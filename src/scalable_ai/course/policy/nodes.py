"""Nodes and multi-node reservations.

Syllabus, "Infrastructure": "8 total nodes on GCP. Each group receives one H100 node
(8×H100) ... a static IP address". "If your project requires more than one node, you must
coordinate with another team to share nodes for a bounded window of time ... multi-node
work may require coordinating host files and access rules across multiple team IPs."

A :class:`Reservation` joins two or more groups' nodes for a bounded window. It needs every
owning group's consent, never overlaps another reservation of the same node, and grants
nothing outside its window. For its window it yields a hostfile (``IP slots=8``, the form
Open MPI and DeepSpeed read), ``torchrun`` arguments for a c10d rendezvous on the first
node, and firewall rules letting each node reach the others.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from scalable_ai.course.clock import in_words
from scalable_ai.course.policy.settings import CourseSettings
from scalable_ai.errors import Conflict, Forbidden, NotFound, UserError


@dataclass(frozen=True)
class Node:
    """One H100 node: a name ("node-1"), its static external IP, its GPU count."""

    name: str
    ip: str
    gpus: int = 8

    def __post_init__(self) -> None:
        check_ip(self.ip, field="ip")


def check_ip(text: str, *, field: str = "ip") -> str:
    """Validate an IPv4/IPv6 address; returns it unchanged."""
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise UserError(f"not an IP address: {text!r}", field=field) from None
    return text


@dataclass(frozen=True)
class Reservation:
    """Two or more nodes joined for ``[starts_at, ends_at)``. ``owners`` maps each node name
    to the group that owns it; ``consents`` is the set of groups that have agreed."""

    id: str
    nodes: tuple[str, ...]
    owners: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime
    consents: frozenset[str] = field(default_factory=frozenset)
    requested_by: str = ""
    cancelled: bool = False

    @property
    def groups(self) -> tuple[str, ...]:
        """The owning groups, in node order, without repeats."""
        return tuple(dict.fromkeys(self.owners[n] for n in self.nodes))

    @property
    def missing_consents(self) -> tuple[str, ...]:
        return tuple(g for g in self.groups if g not in self.consents)

    def overlaps(self, other: Reservation) -> bool:
        """True when both windows intersect and they share a node (half-open windows)."""
        return (
            bool(set(self.nodes) & set(other.nodes))
            and self.starts_at < other.ends_at
            and other.starts_at < self.ends_at
        )

    def is_active(self, now: datetime) -> bool:
        """Active only inside its window, with every owning group's consent, not cancelled."""
        return (
            not self.cancelled
            and not self.missing_consents
            and self.starts_at <= now < self.ends_at
        )


def check_reservation(
    reservation: Reservation,
    existing: Iterable[Reservation],
    settings: CourseSettings | None = None,
    *,
    now: datetime | None = None,
) -> None:
    """Raise unless the reservation can be stored: at least two distinct nodes, each with an
    owner; a bounded window (start before end, at most ``reservation_max_hours``) that does
    not start before ``now`` when a request is being made; no other live reservation of any
    of its nodes overlapping the window."""
    settings = settings or CourseSettings()
    if len(set(reservation.nodes)) != len(reservation.nodes):
        raise UserError("a node appears twice", field="nodes")
    if len(reservation.nodes) < 2:
        raise UserError("a multi-node reservation joins two or more nodes", field="nodes")
    for name in reservation.nodes:
        if name not in reservation.owners:
            raise UserError(f"{name} is not assigned to any group", field="nodes")
    for when in ("starts_at", "ends_at"):
        if getattr(reservation, when).tzinfo is None:
            raise UserError("give a time zone (or use course time)", field=when)
    if now is not None and reservation.starts_at < now:
        raise UserError("a reservation cannot start in the past", field="starts_at")
    if reservation.ends_at <= reservation.starts_at:
        raise UserError("the window must end after it starts", field="ends_at")
    if reservation.ends_at - reservation.starts_at > timedelta(
        hours=settings.reservation_max_hours
    ):
        raise UserError(
            f"a reservation is a bounded window of at most {settings.reservation_max_hours} hours",
            field="ends_at",
        )
    for other in existing:
        if other.id != reservation.id and not other.cancelled and reservation.overlaps(other):
            shared = ", ".join(sorted(set(reservation.nodes) & set(other.nodes)))
            raise Conflict(
                f"{shared} is already reserved from {in_words(other.starts_at)} "
                f"to {in_words(other.ends_at)} (reservation {other.id})",
                field="nodes",
            )


def consent(reservation: Reservation, group: str) -> Reservation:
    """Record ``group``'s consent; only an owning group may consent, and nobody to a
    cancelled reservation."""
    if reservation.cancelled:
        raise Conflict("this reservation was cancelled", field="reservation")
    if group not in reservation.groups:
        raise Forbidden(f"group {group} owns none of this reservation's nodes", field="group")
    return dataclasses.replace(reservation, consents=reservation.consents | {group})


def _nodes_of(reservation: Reservation, nodes: Mapping[str, Node] | Sequence[Node]) -> list[Node]:
    by_name = nodes if isinstance(nodes, Mapping) else {n.name: n for n in nodes}
    try:
        return [by_name[name] for name in reservation.nodes]
    except KeyError as missing:
        raise NotFound(f"no node {missing.args[0]!r}", field="nodes") from None


def _require_active(reservation: Reservation, now: datetime) -> None:
    if reservation.cancelled:
        raise Forbidden(f"reservation {reservation.id} was cancelled", field="reservation")
    if reservation.missing_consents:
        raise Forbidden(
            f"reservation {reservation.id} still needs consent from "
            + ", ".join(reservation.missing_consents),
            field="reservation",
        )
    if not reservation.starts_at <= now < reservation.ends_at:
        raise Forbidden(
            f"reservation {reservation.id} is active only from "
            f"{in_words(reservation.starts_at)} to "
            f"{in_words(reservation.ends_at)}",
            field="reservation",
        )


def hostfile(nodes: Sequence[Node], slots: int | None = None) -> str:
    """The ``IP slots=N`` hostfile Open MPI (``--hostfile``) and DeepSpeed read; one line a
    node, the rendezvous node first."""
    return "".join(f"{n.ip} slots={slots or n.gpus}\n" for n in nodes)


def torchrun_args(
    nodes: Sequence[Node], rdzv_id: str, *, port: int = 29400, nproc_per_node: int = 8
) -> list[str]:
    """``torchrun`` arguments for a c10d rendezvous on the first node (PyTorch elastic)."""
    return [
        "--nnodes",
        str(len(nodes)),
        "--nproc-per-node",
        str(nproc_per_node),
        "--rdzv-backend",
        "c10d",
        "--rdzv-endpoint",
        f"{nodes[0].ip}:{port}",
        "--rdzv-id",
        rdzv_id,
    ]


@dataclass(frozen=True)
class AccessRule:
    """Traffic from ``source_ip`` (a partner node) may reach ``node`` (all ports: NCCL and
    the rendezvous pick ports at run time) until ``until``."""

    node: str
    node_ip: str
    source_ip: str
    source_node: str
    reservation: str
    until: datetime

    def iptables(self) -> str:
        return (
            f"iptables -A INPUT -s {self.source_ip} -j ACCEPT  "
            f"# {self.source_node} -> {self.node}, reservation {self.reservation}, "
            f"until {in_words(self.until)}"
        )

    def ufw(self) -> str:
        return (
            f"ufw allow from {self.source_ip} to any comment "
            f"'{self.source_node} reservation {self.reservation}'"
        )

    def ufw_delete(self) -> str:
        return f"ufw delete allow from {self.source_ip} to any"


def access_rules(
    reservation: Reservation, nodes: Mapping[str, Node] | Sequence[Node], now: datetime
) -> list[AccessRule]:
    """Which team IPs may reach which nodes now: every node of an active reservation accepts
    every other node of it. Outside its window (or without every consent) it grants nothing:
    the list is empty."""
    if not reservation.is_active(now):
        return []
    members = _nodes_of(reservation, nodes)
    return [
        AccessRule(
            node=dst.name,
            node_ip=dst.ip,
            source_ip=src.ip,
            source_node=src.name,
            reservation=reservation.id,
            until=reservation.ends_at,
        )
        for dst in members
        for src in members
        if src.name != dst.name
    ]


def firewall_script(rules: Sequence[AccessRule], style: str = "ufw") -> str:
    """Rules grouped by node, as shell lines a person runs on that node ("ufw"/"iptables")."""
    if style not in ("ufw", "iptables"):
        raise UserError("style is 'ufw' or 'iptables'", field="style")
    lines: list[str] = []
    for node in dict.fromkeys(r.node for r in rules):
        lines.append(f"# on {node}")
        lines += [r.ufw() if style == "ufw" else r.iptables() for r in rules if r.node == node]
    return "\n".join(lines) + ("\n" if lines else "")


@dataclass(frozen=True)
class ReservationPlan:
    """What an active reservation gives its groups for its window."""

    reservation: str
    hostfile: str
    torchrun_args: list[str]
    access_rules: list[AccessRule]

    @property
    def torchrun_command(self) -> str:
        return "torchrun " + " ".join(self.torchrun_args) + " <script.py>"


def reservation_plan(
    reservation: Reservation,
    nodes: Mapping[str, Node] | Sequence[Node],
    now: datetime,
    settings: CourseSettings | None = None,
) -> ReservationPlan:
    """Hostfile, torchrun arguments and access rules of an active reservation; raises
    :class:`Forbidden` outside its window or before every group consented."""
    settings = settings or CourseSettings()
    _require_active(reservation, now)
    members = _nodes_of(reservation, nodes)
    return ReservationPlan(
        reservation=reservation.id,
        hostfile=hostfile(members, settings.gpus_per_node),
        torchrun_args=torchrun_args(
            members,
            f"sai-{reservation.id}",
            port=settings.rendezvous_port,
            nproc_per_node=settings.gpus_per_node,
        ),
        access_rules=access_rules(reservation, nodes, now),
    )


def partner_groups(node: str, reservations: Iterable[Reservation], now: datetime) -> set[str]:
    """Groups that share ``node`` through a reservation active at ``now`` (not its owner)."""
    partners: set[str] = set()
    for r in reservations:
        if node in r.nodes and r.is_active(now):
            partners |= {g for g in r.groups if g != r.owners[node]}
    return partners
