"""Scribing, peer review and sign-up slots (checkoffs, midterm check-ins, presentations).

- Scribing: "Each student is expected to scribe 2 lectures"; the balanced, seeded
  assignment is :func:`scalable_ai.course.policy.scribing.assign_scribes`.
- Peer review: "each group will provide a structured, constructive review of another
  group's report"; the derangement is :func:`scalable_ai.course.policy.peer_review.
  assign_peer_reviews`, due on the peer-review milestone.
- Sign-up slots: "Assignment checkoffs: Checkoff slots by sign-up" (one per group per
  assignment), check-in meetings and presentation sessions; the rules are
  :mod:`scalable_ai.course.policy.milestones`. The slot row is locked while it is booked,
  so two groups cannot take its last seat at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock
from scalable_ai.course.db import take_write_lock
from scalable_ai.course.policy import milestones as slot_rules
from scalable_ai.course.policy.peer_review import assign_peer_reviews as derange
from scalable_ai.course.policy.scribing import assign_scribes as deal_scribes
from scalable_ai.course.policy.scribing import scribable_lectures
from scalable_ai.course.service.actors import (
    Actor,
    acting_person,
    current_group_id,
    require_staff,
)
from scalable_ai.course.service.course import (
    PEER_REVIEW_MILESTONE,
    assignment_by_key,
    milestone_by_key,
    milestone_due_at,
    row_by_id,
    settings_of,
)
from scalable_ai.course.service.setup import course_spec
from scalable_ai.course.tables import (
    Assignment,
    Group,
    Lecture,
    PeerReviewAssignment,
    Person,
    ScribeAssignment,
    SignupSlot,
    SlotSignup,
)
from scalable_ai.errors import Conflict, Forbidden, NotFound, UserError

# --- scribing -----------------------------------------------------------------------------


def assign_scribes(
    session: Session, actor: Actor, *, seed: int = 0, replace: bool = False, clock: Clock
) -> Sequence[ScribeAssignment]:
    """Staff deal every active student ``scribe_lectures_per_student`` lectures (recess days
    excluded), balanced and deterministic for a seed. ``replace`` redoes an earlier deal."""
    require_staff(actor, "assign scribes")
    existing = session.scalars(select(ScribeAssignment)).all()
    if existing and not replace:
        raise Conflict("scribes are already assigned; pass replace to deal again", field="replace")
    spec = course_spec(session)
    lectures = {lec.key: lec for lec in session.scalars(select(Lecture))}
    keys = scribable_lectures(
        [(k, lec.held_on) for k, lec in lectures.items()], [r.day for r in spec.recess]
    )
    students = {
        p.email: p
        for p in session.scalars(select(Person).where(Person.role == "student", Person.active))
    }
    deal = deal_scribes(
        sorted(students), keys, seed, settings_of(session).scribe_lectures_per_student
    )
    if existing:
        session.execute(delete(ScribeAssignment))
    rows = [
        ScribeAssignment(
            lecture_id=lectures[d.lecture].id,
            person_id=students[d.student].id,
            assigned_at=clock.now(),
        )
        for d in deal
    ]
    session.add_all(rows)
    session.flush()
    first = rows[0] if rows else None
    if first is not None:
        audit.record(
            session,
            actor,
            "scribes.assign",
            first,
            before=None,
            after={"seed": seed, "assignments": len(rows)},
            at=clock.now(),
        )
    return rows


_SCRIBES = (
    select(ScribeAssignment).join(Lecture).order_by(Lecture.held_on, ScribeAssignment.person_id)
)
# Built once: the dashboard reads a student's rows on every load.
_PERSON_SCRIBES = _SCRIBES.where(ScribeAssignment.person_id == bindparam("person_id"))


def list_scribes(
    session: Session, actor: Actor, *, person_id: int | None = None
) -> Sequence[ScribeAssignment]:
    """The scribe schedule (posted to the class, as on Ed), by lecture; with ``person_id``,
    that student's rows only (the dashboard's "your scribe lectures")."""
    if person_id is None:
        return session.scalars(_SCRIBES).all()
    return session.scalars(_PERSON_SCRIBES, {"person_id": person_id}).all()


def mark_scribe(
    session: Session,
    actor: Actor,
    scribe_id: int,
    *,
    satisfactory: bool,
    submitted_at: datetime | None = None,
    clock: Clock,
) -> ScribeAssignment:
    """Staff record that a scribe was handed in and whether it was satisfactory."""
    require_staff(actor, "grade scribes")
    row = row_by_id(session, ScribeAssignment, scribe_id, what="scribe assignment", field="scribe")
    before = audit.snapshot(row)
    row.submitted_at = submitted_at or row.submitted_at or clock.now()
    row.satisfactory = satisfactory
    audit.record(session, actor, "scribe.mark", row, before=before, at=clock.now())
    return row


# --- peer review --------------------------------------------------------------------------


def assign_peer_reviews(
    session: Session, actor: Actor, *, seed: int = 0, replace: bool = False, clock: Clock
) -> Sequence[PeerReviewAssignment]:
    """Staff pair every group with another group's draft (never its own, one review each)."""
    require_staff(actor, "assign peer reviews")
    existing = session.scalars(select(PeerReviewAssignment)).all()
    if existing and not replace:
        raise Conflict(
            "peer reviews are already assigned; pass replace to deal again", field="replace"
        )
    groups = {g.name: g for g in session.scalars(select(Group)) if g.members}
    due = milestone_due_at(milestone_by_key(session, PEER_REVIEW_MILESTONE), settings_of(session))
    pairs = derange(sorted(groups), seed, due)
    if existing:
        session.execute(delete(PeerReviewAssignment))
    rows = [
        PeerReviewAssignment(
            reviewer_group_id=groups[p.reviewer].id,
            reviewed_group_id=groups[p.author].id,
            due_at=due,
            assigned_at=clock.now(),
        )
        for p in pairs
    ]
    session.add_all(rows)
    session.flush()
    if rows:
        audit.record(
            session,
            actor,
            "peer_reviews.assign",
            rows[0],
            before=None,
            after={"seed": seed, "assignments": len(rows)},
            at=clock.now(),
        )
    return rows


def list_peer_reviews(session: Session, actor: Actor) -> Sequence[PeerReviewAssignment]:
    """Staff see every pairing; a student their group's (as reviewer or as author)."""
    query = select(PeerReviewAssignment).order_by(PeerReviewAssignment.id)
    if not actor.is_staff:
        mine = current_group_id(session, actor.person_id) if actor.person_id else None
        query = query.where(
            (PeerReviewAssignment.reviewer_group_id == mine)
            | (PeerReviewAssignment.reviewed_group_id == mine)
        )
    return session.scalars(query).all()


# --- sign-up slots ------------------------------------------------------------------------


def _policy_slot(row: SignupSlot, keys: dict[int, str]) -> slot_rules.SignupSlot:
    return slot_rules.SignupSlot(
        id=str(row.id),
        kind=slot_rules.SlotKind(row.kind),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        capacity=row.capacity,
        assignment=keys.get(row.assignment_id) if row.assignment_id else None,
        session=row.session,
        location=row.location,
    )


def create_slot(
    session: Session,
    actor: Actor,
    *,
    kind: str,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int = 1,
    assignment: str | None = None,
    presentation_session: str | None = None,
    location: str = "",
    clock: Clock,
) -> SignupSlot:
    """Staff open a slot: a ``checkoff`` for an assignment, a ``midterm_checkin`` meeting
    or a ``presentation`` in session A or B."""
    require_staff(actor, "open sign-up slots")
    try:
        slot_kind = slot_rules.SlotKind(kind)
    except ValueError:
        raise UserError(
            "kind is one of " + ", ".join(k.value for k in slot_rules.SlotKind), field="kind"
        ) from None
    target = assignment_by_key(session, assignment) if assignment else None
    slot_rules.SignupSlot(
        id="new",
        kind=slot_kind,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        assignment=target.key if target else None,
        session=presentation_session,
        location=location,
    )
    row = SignupSlot(
        kind=slot_kind.value,
        assignment_id=target.id if target else None,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        session=presentation_session,
        location=location,
    )
    session.add(row)
    audit.record(session, actor, "slot.create", row, before=None, at=clock.now())
    return row


def list_slots(session: Session, actor: Actor, *, kind: str | None = None) -> Sequence[SignupSlot]:
    query = select(SignupSlot).order_by(SignupSlot.starts_at, SignupSlot.id)
    if kind is not None:
        query = query.where(SignupSlot.kind == kind)
    return session.scalars(query).all()


def slot_signups(session: Session, slot_id: int) -> Sequence[SlotSignup]:
    return session.scalars(
        select(SlotSignup).where(SlotSignup.slot_id == slot_id).order_by(SlotSignup.id)
    ).all()


def sign_up(
    session: Session, actor: Actor, slot_id: int, *, group_id: int | None = None, clock: Clock
) -> SlotSignup:
    """Book a slot for your group (staff may book for any group)."""
    if actor.is_staff and group_id is not None:
        group = session.get(Group, group_id)
    else:
        me = acting_person(session, actor)
        mine = current_group_id(session, me.id)
        if group_id is not None and group_id != mine:
            raise Forbidden("you may only sign up your own group", field="group_id")
        group = session.get(Group, mine) if mine is not None else None
    if group is None:
        raise NotFound("no such group: sign-ups are per group", field="group_id")
    take_write_lock(session)
    slot = session.scalar(select(SignupSlot).where(SignupSlot.id == slot_id).with_for_update())
    if slot is None:
        raise NotFound(f"no sign-up slot with id {slot_id}", field="slot")
    keys = {a.id: a.key for a in session.scalars(select(Assignment))}
    slots = {s.id: s for s in session.scalars(select(SignupSlot))}
    names = {g.id: g.name for g in session.scalars(select(Group))}
    taken = [
        slot_rules.Signup(str(s.slot_id), names[s.group_id], s.created_at)
        for s in session.scalars(select(SlotSignup))
    ]
    slot_rules.check_signup(
        _policy_slot(slot, keys),
        group.name,
        taken,
        [_policy_slot(s, keys) for s in slots.values()],
        clock.now(),
    )
    row = SlotSignup(
        slot_id=slot.id, group_id=group.id, signed_up_by_id=actor.person_id, created_at=clock.now()
    )
    session.add(row)
    audit.record(session, actor, "slot.sign_up", row, before=None, at=clock.now())
    return row


def cancel_signup(session: Session, actor: Actor, signup_id: int, *, clock: Clock) -> None:
    """Give a booked slot back (the group's members, or staff), before it starts."""
    row = row_by_id(session, SlotSignup, signup_id, what="sign-up", field="signup")
    if not actor.is_staff and current_group_id(session, actor.person_id or 0) != row.group_id:
        raise Forbidden("only the group's members and staff may cancel its sign-up", field="signup")
    slot = session.get(SignupSlot, row.slot_id)
    if slot is not None:
        slot_rules.check_cancel(slot.starts_at, clock.now(), by_staff=actor.is_staff)
    before = audit.snapshot(row)
    session.delete(row)
    session.flush()
    audit.record(session, actor, "slot.cancel", row, before=before, after=None, at=clock.now())
