"""Groups, node assignment and SSH access.

Syllabus: "Groups of 4–6. 1 H100 node (8×H100) per group (8 total nodes on GCP). Each group
is assigned a single static external IP address for SSH'ing in"; group formation is due
Jan 29 ("Groups of 4–6; node assigned"). Students form groups themselves (invite, accept,
leave) until the formation deadline; staff can propose and confirm groups at any time; a
group still under 4 at the deadline is flagged for staff. A student is in at most one
group. Each node's ``authorized_keys`` holds its group's keys and, during an active
multi-node reservation, the partner groups' keys.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from scalable_ai.course.clock import in_words
from scalable_ai.course.policy.nodes import Node, Reservation, partner_groups
from scalable_ai.course.policy.settings import CourseSettings
from scalable_ai.errors import Conflict, Forbidden, NotFound, UserError


@dataclass(frozen=True)
class Group:
    """A project group. ``proposed_by`` names the staff member who proposed it (empty when
    students formed it); ``confirmed`` is set when staff confirm it."""

    id: str
    members: tuple[str, ...] = ()
    name: str = ""
    confirmed: bool = False
    proposed_by: str = ""

    @property
    def size(self) -> int:
        return len(self.members)


@dataclass(frozen=True)
class Invitation:
    group: str
    student: str
    invited_by: str
    at: datetime


def group_of(student: str, groups: Iterable[Group]) -> Group | None:
    """The student's group, if any ("a student in at most one group")."""
    for group in groups:
        if student in group.members:
            return group
    return None


def check_formation_open(now: datetime, formation_deadline: datetime) -> None:
    """Students change groups themselves only until the formation deadline."""
    if now > formation_deadline:
        raise Forbidden(
            f"group formation closed at {in_words(formation_deadline)}; ask staff to change groups",
            field="group",
        )


def _check_free(student: str, groups: Iterable[Group], *, except_group: str | None = None) -> None:
    current = group_of(student, groups)
    if current is not None and current.id != except_group:
        raise Conflict(
            f"{student} is already in group {current.id}: a student is in at most one group",
            field="student",
        )


def _check_room(group: Group, settings: CourseSettings) -> None:
    if group.size >= settings.group_size_max:
        raise Conflict(
            f"group {group.id} already has {group.size} members; groups have "
            f"{settings.group_size_min}–{settings.group_size_max}",
            field="group",
        )


def create_group(
    group_id: str,
    founder: str,
    groups: Sequence[Group],
    now: datetime,
    formation_deadline: datetime,
    name: str = "",
) -> Group:
    """A student starts a group (before the deadline) and invites others into it."""
    check_formation_open(now, formation_deadline)
    if any(g.id == group_id for g in groups):
        raise Conflict(f"group {group_id} already exists", field="group")
    _check_free(founder, groups)
    return Group(id=group_id, members=(founder,), name=name)


def invite(
    group: Group,
    student: str,
    invited_by: str,
    groups: Sequence[Group],
    now: datetime,
    formation_deadline: datetime,
    settings: CourseSettings | None = None,
) -> Invitation:
    """A member invites a student who is in no group, while the group has room."""
    settings = settings or CourseSettings()
    check_formation_open(now, formation_deadline)
    if invited_by not in group.members:
        raise Forbidden(f"only members of group {group.id} can invite", field="invited_by")
    _check_free(student, groups)
    _check_room(group, settings)
    return Invitation(group=group.id, student=student, invited_by=invited_by, at=now)


def accept(
    invitation: Invitation,
    group: Group,
    groups: Sequence[Group],
    now: datetime,
    formation_deadline: datetime,
    settings: CourseSettings | None = None,
) -> Group:
    """The invited student joins: still free, still room, still before the deadline."""
    settings = settings or CourseSettings()
    check_formation_open(now, formation_deadline)
    if invitation.group != group.id:
        raise UserError("this invitation is for another group", field="invitation")
    _check_free(invitation.student, groups)
    _check_room(group, settings)
    return dataclasses.replace(group, members=(*group.members, invitation.student))


def leave(group: Group, student: str, now: datetime, formation_deadline: datetime) -> Group:
    """A student leaves their group before the deadline (after it, staff move students)."""
    check_formation_open(now, formation_deadline)
    if student not in group.members:
        raise NotFound(f"{student} is not in group {group.id}", field="student")
    return dataclasses.replace(
        group, members=tuple(m for m in group.members if m != student), confirmed=False
    )


def move_student(
    student: str, target: Group | None, settings: CourseSettings | None = None
) -> Group | None:
    """Staff move a student into ``target``, or out of every group (``None``), at any time
    (after the formation deadline this is how groups change). The target must still have
    room; leaving the old group is always allowed, and slack-day balances follow the student
    because they are computed per student from the ledger."""
    settings = settings or CourseSettings()
    if target is None or student in target.members:
        return target
    _check_room(target, settings)
    return dataclasses.replace(target, members=(*target.members, student))


def propose_group(
    group_id: str,
    members: Sequence[str],
    groups: Sequence[Group],
    staff: str,
    settings: CourseSettings | None = None,
) -> Group:
    """Staff propose a group (e.g. from the questionnaire), at any time: 4–6 students, each
    in no other group (a student already in ``group_id`` may stay)."""
    settings = settings or CourseSettings()
    _check_size(len(set(members)), settings, field="members")
    if len(set(members)) != len(members):
        raise UserError("a student is listed twice", field="members")
    for student in members:
        _check_free(student, groups, except_group=group_id)
    return Group(id=group_id, members=tuple(members), proposed_by=staff)


def confirm_group(group: Group, settings: CourseSettings | None = None) -> Group:
    """Staff confirm a group of 4–6; confirmation is what a node assignment needs."""
    settings = settings or CourseSettings()
    _check_size(group.size, settings, field="members")
    return dataclasses.replace(group, confirmed=True)


def _check_size(size: int, settings: CourseSettings, *, field: str) -> None:
    if not settings.group_size_min <= size <= settings.group_size_max:
        raise UserError(
            f"groups have {settings.group_size_min}–{settings.group_size_max} "
            f"students, this one has {size}",
            field=field,
        )


def undersized_groups(
    groups: Iterable[Group],
    now: datetime,
    formation_deadline: datetime,
    settings: CourseSettings | None = None,
    *,
    enrollment_final: bool = False,
) -> list[Group]:
    """Groups still under the minimum size once the deadline has passed (flagged for staff);
    nothing is flagged before the deadline, while groups are still forming — unless
    enrollment is already final ("We will finalize enrollment/compute allocations ... by
    Jan 29"): a group short of members then (say, one that lost a student who is not
    enrolled) is flagged at once. Flagged, never dissolved: staff decide."""
    settings = settings or CourseSettings()
    if now <= formation_deadline and not enrollment_final:
        return []
    return [g for g in groups if g.size < settings.group_size_min]


def assign_node(
    group: str,
    nodes: Sequence[Node],
    assigned: Mapping[str, str],
    settings: CourseSettings | None = None,
) -> Node:
    """Give ``group`` the first free node of the pool ("1 H100 node per group, 8 total").
    ``assigned`` maps group → node name. A group keeps the node it has; when the pool is
    exhausted the group is refused with a message naming the node pool."""
    settings = settings or CourseSettings()
    pool = list(nodes)[: settings.node_pool_size]
    if group in assigned:
        for node in nodes:
            if node.name == assigned[group]:
                return node
        raise NotFound(
            f"group {group} holds {assigned[group]!r}, which is not in the node pool", field="node"
        )
    used = set(assigned.values())
    for node in pool:
        if node.name not in used:
            return node
    raise Conflict(
        f"the node pool has {settings.node_pool_size} nodes and all are assigned "
        f"(one per group); group {group} cannot get a node",
        field="node",
    )


# --- SSH keys ---------------------------------------------------------------------------

SSH_KEY_TYPES = frozenset(
    {
        "ssh-ed25519",
        "ssh-rsa",
        "ecdsa-sha2-nistp256",
        "ecdsa-sha2-nistp384",
        "ecdsa-sha2-nistp521",
        "sk-ssh-ed25519@openssh.com",
        "sk-ecdsa-sha2-nistp256@openssh.com",
    }
)


@dataclass(frozen=True)
class SshPublicKey:
    """An OpenSSH public key line: type, base64 blob, optional comment."""

    kind: str
    blob: str
    comment: str = ""

    @property
    def fingerprint(self) -> str:
        """``SHA256:…`` as ``ssh-keygen -lf`` prints it."""
        digest = hashlib.sha256(base64.b64decode(self.blob)).digest()
        return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")

    def line(self, comment: str | None = None) -> str:
        text = comment if comment is not None else self.comment
        return f"{self.kind} {self.blob}" + (f" {text}" if text else "")


def parse_ssh_public_key(text: str, *, field: str = "public_key") -> SshPublicKey:
    """Validate one public key line (``ssh-ed25519 AAAA… comment``). Rejects private keys,
    options prefixes (``command=``), several lines, unknown types, and a blob whose embedded
    type differs from the stated one."""
    text = text.strip()
    if "PRIVATE KEY" in text:
        raise UserError("this is a private key; paste the .pub file instead", field=field)
    if "\n" in text or "\r" in text:
        raise UserError("one key per line", field=field)
    parts = text.split(None, 2)
    if len(parts) < 2:
        raise UserError("expected 'TYPE BASE64 [comment]'", field=field)
    kind, blob = parts[0], parts[1]
    if kind not in SSH_KEY_TYPES:
        raise UserError(
            f"unsupported key type {kind!r}; use one of " + ", ".join(sorted(SSH_KEY_TYPES)),
            field=field,
        )
    try:
        raw = base64.b64decode(blob, validate=True)
        (length,) = struct.unpack(">I", raw[:4])
        embedded = raw[4 : 4 + length].decode("ascii")
    except (binascii.Error, struct.error, UnicodeDecodeError):
        raise UserError("the key data is not valid base64 OpenSSH key data", field=field) from None
    if embedded != kind or len(raw) <= 4 + length:
        raise UserError(f"the key data is not a {kind} key", field=field)
    comment = parts[2].strip() if len(parts) > 2 else ""
    return SshPublicKey(kind=kind, blob=blob, comment=comment)


def authorized_keys(
    node: Node,
    owner_group: str,
    keys_by_group: Mapping[str, Sequence[tuple[str, SshPublicKey]]],
    reservations: Iterable[Reservation] = (),
    now: datetime | None = None,
) -> str:
    """The node's ``authorized_keys``: its group's keys, plus, while a reservation of the
    node is active at ``now``, each partner group's keys. Each line's comment names the
    student and group so a person reading the file knows whose key it is."""
    groups = [owner_group]
    if now is not None:
        groups += sorted(partner_groups(node.name, reservations, now))
    lines = [f"# {node.name} ({node.ip}): generated by the course platform; do not edit"]
    for group in groups:
        role = "owner" if group == owner_group else "reservation partner"
        lines.append(f"# group {group} ({role})")
        for student, key in keys_by_group.get(group, ()):
            lines.append(key.line(f"{student}@group-{group}"))
    return "\n".join(lines) + "\n"
