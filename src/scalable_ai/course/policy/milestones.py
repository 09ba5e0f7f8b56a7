"""Project milestones and sign-up slots.

Syllabus, "Research Project": research directions released (Jan 22), group formation
(Jan 29), hypothesis statement v1 (Feb 12), project proposal v2 (Feb 26), midterm check-in
(Mar 19, "check-in meetings scheduled around this date"), draft report (Apr 26), final
presentations (Apr 28/30), peer review due (May 1), poster session (May 5), final
deliverables (May 10), impact update close (May 15). The dates live in the seed YAML; this
module holds the shapes and the sign-up rules: "Assignment checkoffs: Checkoff slots by
sign-up" (one per group per assignment), check-in meetings, and the two presentation
sessions ("Oral presentations require sign-up and in-person attendance").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

from scalable_ai.errors import Conflict, NotFound, UserError

# The project milestones in syllabus order; the seed must define each one.
PROJECT_MILESTONE_KEYS: tuple[str, ...] = (
    "research_directions",
    "group_formation",
    "hypothesis",
    "proposal",
    "midterm_checkin",
    "draft_report",
    "presentations",
    "peer_review",
    "poster_session",
    "final_deliverables",
    "impact_update",
)


class MilestoneKind(StrEnum):
    RELEASE = "release"  # something staff publish (research directions)
    DEADLINE = "deadline"  # something groups submit, due at the course deadline time
    EVENT = "event"  # something that happens (presentations, poster session)


@dataclass(frozen=True)
class Milestone:
    """One dated milestone. ``last_day`` is set when it spans days (presentations Apr 28/30).
    ``project`` is False for course milestones that are not part of the project table
    (questionnaire released, enrollment decisions finalized). ``in_calendar`` is False when
    other events stand for it (the presentations milestone: its two sessions)."""

    key: str
    title: str
    day: date
    kind: MilestoneKind = MilestoneKind.DEADLINE
    notes: str = ""
    submit_via: str = ""
    last_day: date | None = None
    project: bool = True
    schedule_title_override: str = ""
    in_calendar: bool = True
    sequence: int = 0

    @property
    def schedule_title(self) -> str:
        """The event's title in the calendar ("Hypothesis statement v1 due")."""
        if self.schedule_title_override:
            return self.schedule_title_override
        if self.kind is MilestoneKind.DEADLINE:
            return f"{self.title} due"
        return self.title


@dataclass(frozen=True)
class PresentationSession:
    """A presentation session ("Project Presentations (Session A)", Apr 28)."""

    session: str
    day: date
    notes: str = ""
    sequence: int = 0


class SlotKind(StrEnum):
    CHECKOFF = "checkoff"  # oral checkoff for one assignment
    MIDTERM_CHECKIN = "midterm_checkin"  # check-in meeting around Mar 19
    PRESENTATION = "presentation"  # a talk in session A or B


@dataclass(frozen=True)
class SignupSlot:
    """A bookable time. ``capacity`` is how many groups it holds; ``assignment`` names the
    assignment for a checkoff, ``session`` the presentation session ("A", "B")."""

    id: str
    kind: SlotKind
    starts_at: datetime
    ends_at: datetime
    capacity: int = 1
    assignment: str | None = None
    session: str | None = None
    location: str = ""

    def __post_init__(self) -> None:
        if self.ends_at <= self.starts_at:
            raise UserError("a slot must end after it starts", field="ends_at")
        if self.capacity < 1:
            raise UserError("a slot holds at least one group", field="capacity")
        if self.kind is SlotKind.CHECKOFF and not self.assignment:
            raise UserError("a checkoff slot names its assignment", field="assignment")
        if self.kind is SlotKind.PRESENTATION and not self.session:
            raise UserError("a presentation slot names its session", field="session")


@dataclass(frozen=True)
class Signup:
    """A group's booking of a slot."""

    slot_id: str
    group: str
    at: datetime


def _slot(slots: Sequence[SignupSlot], slot_id: str) -> SignupSlot:
    for slot in slots:
        if slot.id == slot_id:
            return slot
    raise NotFound(f"no sign-up slot {slot_id!r}", field="slot")


def check_signup(
    slot: SignupSlot,
    group: str,
    signups: Iterable[Signup],
    slots: Sequence[SignupSlot],
    now: datetime,
) -> None:
    """Raise :class:`Conflict` unless ``group`` may book ``slot`` now: the slot has not
    started, has room, and the group holds no other slot of the same kind for the same
    purpose (one checkoff per group per assignment; one check-in meeting; one presentation)."""
    signups = list(signups)
    if now >= slot.starts_at:
        raise Conflict("this slot has already started; pick a later one", field="slot")
    taken = [s for s in signups if s.slot_id == slot.id]
    if any(s.group == group for s in taken):
        raise Conflict(f"group {group} already holds this slot", field="slot")
    if len(taken) >= slot.capacity:
        raise Conflict(
            f"this slot is full ({slot.capacity} of {slot.capacity} taken)", field="slot"
        )
    for s in signups:
        if s.group != group:
            continue
        held = _slot(slots, s.slot_id)
        if held.kind is not slot.kind:
            continue
        if slot.kind is SlotKind.CHECKOFF and held.assignment == slot.assignment:
            raise Conflict(
                f"group {group} already has a checkoff for {slot.assignment}: "
                "one checkoff per group per assignment",
                field="slot",
            )
        if slot.kind is SlotKind.MIDTERM_CHECKIN:
            raise Conflict(f"group {group} already has a midterm check-in meeting", field="slot")
        if slot.kind is SlotKind.PRESENTATION:
            raise Conflict(
                f"group {group} already presents in session {held.session}", field="slot"
            )


def signup(
    slot: SignupSlot,
    group: str,
    signups: Iterable[Signup],
    slots: Sequence[SignupSlot],
    now: datetime,
) -> Signup:
    """Book ``slot`` for ``group`` after :func:`check_signup`; returns the new record."""
    check_signup(slot, group, signups, slots, now)
    return Signup(slot_id=slot.id, group=group, at=now)


def check_cancel(starts_at: datetime, now: datetime, *, by_staff: bool) -> None:
    """A group gives a booked slot back only before it starts (so a checkoff slot is never
    emptied under the staff running it); staff may cancel at any time."""
    if not by_staff and now >= starts_at:
        raise Conflict("this slot has already started", field="signup")


def seats_left(slot: SignupSlot, signups: Iterable[Signup]) -> int:
    """How many more groups the slot can hold."""
    return slot.capacity - sum(1 for s in signups if s.slot_id == slot.id)


def milestone(milestones: Iterable[Milestone], key: str) -> Milestone:
    """The milestone named ``key`` (``NotFound`` otherwise)."""
    for m in milestones:
        if m.key == key:
            return m
    raise NotFound(f"no milestone {key!r}", field="milestone")
