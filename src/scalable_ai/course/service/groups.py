"""Project groups: students form them (create, invite, accept, leave) until the formation
deadline; staff propose, confirm, move students and assign nodes at any time.

The rules are :mod:`scalable_ai.course.policy.groups` ("Groups of 4–6", "a student in at
most one group", "1 H100 node per group (8 total nodes)"); this module loads the rows, asks
the policy, and writes what it decided. The group row is locked (``SELECT ... FOR UPDATE``)
before its size is checked, so two concurrent joins cannot make a seventh member; the
database's unique index on open memberships keeps a student in one group.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock
from scalable_ai.course.db import take_write_lock
from scalable_ai.course.policy import groups as rules
from scalable_ai.course.policy.roster import clean_name
from scalable_ai.course.service.actors import (
    Actor,
    acting_person,
    current_group_id,
    get_group,
    get_person,
    require_member_or_staff,
    require_staff,
)
from scalable_ai.course.service.course import formation_deadline, row_by_id, settings_of
from scalable_ai.course.service.nodes import policy_node
from scalable_ai.course.tables import Group, GroupInvitation, GroupMembership, Node, Person
from scalable_ai.course.tables.community import Questionnaire
from scalable_ai.errors import Conflict, Forbidden, NotFound, UserError


def policy_group(group: Group) -> rules.Group:
    """The policy's view of a group: members by email, the group by name."""
    return rules.Group(
        id=group.name,
        members=tuple(p.email for p in group.members),
        name=group.name,
        confirmed=group.confirmed_at is not None,
    )


def all_policy_groups(session: Session) -> list[rules.Group]:
    return [policy_group(g) for g in session.scalars(select(Group).order_by(Group.id))]


def lock_group(session: Session, group_id: int) -> Group:
    """The group row, locked for the rest of the transaction (PostgreSQL row lock; on SQLite
    the database's write lock)."""
    take_write_lock(session)
    group = session.scalar(
        select(Group)
        .where(Group.id == group_id)
        .with_for_update(of=Group)
        .execution_options(populate_existing=True)
    )
    if group is None:
        raise NotFound(f"no group with id {group_id}", field="group")
    return group


def _snapshot(group: Group) -> dict[str, object]:
    data = audit.snapshot(group) or {}
    data["members"] = sorted(p.email for p in group.members)
    return data


def _join(session: Session, group: Group, person: Person, clock: Clock) -> None:
    membership = GroupMembership(group_id=group.id, person_id=person.id, joined_at=clock.now())
    session.add(membership)
    group.memberships.append(membership)
    session.flush()


def _leave(session: Session, group: Group, person: Person, clock: Clock) -> None:
    for membership in group.memberships:
        if membership.person_id == person.id and membership.left_at is None:
            membership.left_at = clock.now()
    session.flush()


def create_group(session: Session, actor: Actor, *, name: str, clock: Clock) -> Group:
    """A student starts a group (before the formation deadline) and becomes its first member."""
    me = acting_person(session, actor)
    if me.role != "student":
        raise Forbidden("staff propose groups with `propose_group`", field="name")
    name = clean_name(name, what="a group name")
    settings = settings_of(session)
    rules.create_group(
        name,
        me.email,
        all_policy_groups(session),
        clock.now(),
        formation_deadline(session, settings),
        name=name,
    )
    group = Group(name=name, created_at=clock.now(), created_by_id=me.id)
    session.add(group)
    session.flush()
    _join(session, group, me, clock)
    audit.record(
        session, actor, "group.create", group, before=None, after=_snapshot(group), at=clock.now()
    )
    return group


def invite_to_group(
    session: Session, actor: Actor, group_id: int, *, person_id: int, clock: Clock
) -> GroupInvitation:
    """A member invites a student who is in no group, while the group has room."""
    me = acting_person(session, actor)
    group = lock_group(session, group_id)
    student = get_person(session, person_id, field="person")
    if student.role != "student":
        raise UserError("only students can be invited into a group", field="person")
    settings = settings_of(session)
    rules.invite(
        policy_group(group),
        student.email,
        me.email,
        all_policy_groups(session),
        clock.now(),
        formation_deadline(session, settings),
        settings,
    )
    pending = session.scalar(
        select(GroupInvitation).where(
            GroupInvitation.group_id == group.id,
            GroupInvitation.person_id == student.id,
            GroupInvitation.answered_at.is_(None),
        )
    )
    if pending is not None:
        raise Conflict(
            f"{student.email} already has an open invitation to {group.name}", field="person"
        )
    invitation = GroupInvitation(
        group_id=group.id, person_id=student.id, invited_by_id=me.id, created_at=clock.now()
    )
    session.add(invitation)
    audit.record(session, actor, "group.invite", invitation, before=None, at=clock.now())
    return invitation


def answer_invitation(
    session: Session, actor: Actor, invitation_id: int, *, accept: bool, clock: Clock
) -> GroupInvitation:
    """The invited student accepts (joins, if still free and there is room) or declines."""
    invitation = row_by_id(
        session, GroupInvitation, invitation_id, what="invitation", field="invitation"
    )
    if actor.person_id != invitation.person_id:
        raise Forbidden("only the invited student may answer an invitation", field="invitation")
    if invitation.answered_at is not None:
        raise Conflict("this invitation was already answered", field="invitation")
    me = acting_person(session, actor)
    group = lock_group(session, invitation.group_id)
    before = _snapshot(group)
    if accept:
        settings = settings_of(session)
        rules.accept(
            rules.Invitation(group=group.name, student=me.email, invited_by="", at=clock.now()),
            policy_group(group),
            all_policy_groups(session),
            clock.now(),
            formation_deadline(session, settings),
            settings,
        )
        _join(session, group, me, clock)
        audit.record(
            session,
            actor,
            "group.join",
            group,
            before=before,
            after=_snapshot(group),
            at=clock.now(),
        )
    invitation.answered_at = clock.now()
    invitation.accepted = accept
    return invitation


def leave_group(session: Session, actor: Actor, group_id: int, *, clock: Clock) -> Group:
    """A student leaves their group before the formation deadline (then staff move people)."""
    me = acting_person(session, actor)
    group = lock_group(session, group_id)
    settings = settings_of(session)
    rules.leave(policy_group(group), me.email, clock.now(), formation_deadline(session, settings))
    before = _snapshot(group)
    _leave(session, group, me, clock)
    group.confirmed_at = None
    audit.record(
        session, actor, "group.leave", group, before=before, after=_snapshot(group), at=clock.now()
    )
    return group


def propose_group(
    session: Session, actor: Actor, *, name: str, member_ids: Sequence[int], clock: Clock
) -> Group:
    """Staff propose a group of 4–6 students who are in no other group (any time)."""
    require_staff(actor, "propose groups")
    name = clean_name(name, what="a group name")
    if session.scalar(select(Group.id).where(Group.name == name)):
        raise Conflict(f"group {name} already exists", field="name")
    people = [get_person(session, pid, field="members") for pid in member_ids]
    for person in people:
        if person.role != "student":
            raise UserError(f"{person.email} is not a student", field="members")
    rules.propose_group(
        name,
        [p.email for p in people],
        all_policy_groups(session),
        actor.label,
        settings_of(session),
    )
    group = Group(name=name, created_at=clock.now(), created_by_id=actor.person_id)
    session.add(group)
    session.flush()
    for person in people:
        _join(session, group, person, clock)
    audit.record(
        session, actor, "group.propose", group, before=None, after=_snapshot(group), at=clock.now()
    )
    return group


def confirm_group(session: Session, actor: Actor, group_id: int, *, clock: Clock) -> Group:
    """Staff confirm a group of 4–6 and give it the next free node of the pool (a ninth
    group is refused, naming the node pool)."""
    require_staff(actor, "confirm groups")
    group = lock_group(session, group_id)
    settings = settings_of(session)
    before = _snapshot(group)
    rules.confirm_group(policy_group(group), settings)
    if group.node_id is None:
        _assign_node(session, group)
    group.confirmed_at = group.confirmed_at or clock.now()
    group.confirmed_by_id = actor.person_id
    audit.record(
        session,
        actor,
        "group.confirm",
        group,
        before=before,
        after=_snapshot(group),
        at=clock.now(),
    )
    return group


def _assign_node(session: Session, group: Group) -> None:
    take_write_lock(session)
    nodes = list(session.scalars(select(Node).order_by(Node.id).with_for_update()))
    assigned = {
        g.name: g.node.name
        for g in session.scalars(select(Group).where(Group.node_id.is_not(None)))
        if g.node is not None
    }
    chosen = rules.assign_node(
        group.name, [policy_node(n) for n in nodes], assigned, settings_of(session)
    )
    group.node = next(n for n in nodes if n.name == chosen.name)
    session.flush()


def move_student(
    session: Session, actor: Actor, person_id: int, *, to_group_id: int | None, clock: Clock
) -> Person:
    """Staff move a student to another group (or out of every group), any time. Slack-day
    balances follow the student: they are computed per student from the ledger."""
    require_staff(actor, "move students between groups")
    person = get_person(session, person_id)
    settings = settings_of(session)
    old_id = current_group_id(session, person.id)
    if old_id == to_group_id:
        return person
    target = lock_group(session, to_group_id) if to_group_id is not None else None
    rules.move_student(person.email, policy_group(target) if target else None, settings)
    if old_id is not None:
        old = lock_group(session, old_id)
        before = _snapshot(old)
        _leave(session, old, person, clock)
        audit.record(
            session,
            actor,
            "group.move_out",
            old,
            before=before,
            after=_snapshot(old),
            at=clock.now(),
        )
    if target is not None:
        before = _snapshot(target)
        _join(session, target, person, clock)
        audit.record(
            session,
            actor,
            "group.move_in",
            target,
            before=before,
            after=_snapshot(target),
            at=clock.now(),
        )
    return person


def remove_not_enrolled(
    session: Session, actor: Actor, person_id: int, *, clock: Clock
) -> Group | None:
    """Take a student who is not enrolled out of their group (audited as
    ``group.remove_not_enrolled``), keeping the other members, the group's confirmation and
    its node; the group left, or None when they were in none. A group this leaves under the
    minimum size is flagged for staff (:func:`undersized_groups`), never dissolved."""
    require_staff(actor, "remove a student who is not enrolled from a group")
    group_id = current_group_id(session, person_id)
    if group_id is None:
        return None
    group = lock_group(session, group_id)
    before = _snapshot(group)
    _leave(session, group, get_person(session, person_id), clock)
    audit.record(
        session,
        actor,
        "group.remove_not_enrolled",
        group,
        before=before,
        after=_snapshot(group),
        at=clock.now(),
    )
    return group


def group_by_name(session: Session, actor: Actor, name: str) -> Group:
    """A group by its name (staff, or its members)."""
    group = session.scalar(select(Group).where(Group.name == name.strip()))
    if group is None:
        raise NotFound(f"no group named {name!r}", field="group")
    require_member_or_staff(session, actor, group.id, "see this group")
    return group


def list_groups(session: Session, actor: Actor) -> Sequence[Group]:
    """Staff see every group; a student sees only their own."""
    if actor.is_staff:
        return session.scalars(select(Group).order_by(Group.id)).all()
    mine = current_group_id(session, actor.person_id) if actor.person_id else None
    return [get_group(session, mine)] if mine is not None else []


def show_group(session: Session, actor: Actor, group_id: int) -> Group:
    group = get_group(session, group_id)
    require_member_or_staff(session, actor, group_id, "see this group")
    return group


#: Built once: the dashboard reads the student's group on every load.
_GROUP_BY_ID = select(Group).where(Group.id == bindparam("group_id"))


def my_group(session: Session, actor: Actor) -> Group | None:
    """The actor's current group, if any."""
    gid = current_group_id(session, actor.person_id) if actor.person_id else None
    return session.scalar(_GROUP_BY_ID, {"group_id": gid}) if gid is not None else None


def pending_invitations(session: Session, actor: Actor) -> Sequence[GroupInvitation]:
    """Invitations waiting for the actor's answer."""
    return session.scalars(
        select(GroupInvitation)
        .where(GroupInvitation.person_id == actor.person_id, GroupInvitation.answered_at.is_(None))
        .order_by(GroupInvitation.id)
    ).all()


def undersized_groups(session: Session, actor: Actor, *, clock: Clock) -> Sequence[Group]:
    """Groups under the minimum size after the formation deadline, or at once when
    enrollment has been finalized (flagged for staff, never dissolved)."""
    require_staff(actor, "see flagged groups")
    settings = settings_of(session)
    final = (
        session.scalar(
            select(Questionnaire.id).where(Questionnaire.finalized_at.is_not(None)).limit(1)
        )
        is not None
    )
    flagged = {
        g.id
        for g in rules.undersized_groups(
            all_policy_groups(session),
            clock.now(),
            formation_deadline(session, settings),
            settings,
            enrollment_final=final,
        )
    }
    return [g for g in session.scalars(select(Group).order_by(Group.id)) if g.name in flagged]
