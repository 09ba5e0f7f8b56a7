"""The schedule as the course stands now (after staff moved or retitled lectures): events,
the iCalendar file (RFC 5545, stable UIDs, rising SEQUENCE) and the Markdown table, from
:mod:`scalable_ai.course.calendar`; and a person's own feed, which adds what is theirs: the
lectures they scribe, their group's sign-up slots and node reservations, and the deadlines
that apply to them (a slack day or an exception moves them)."""

from __future__ import annotations

from datetime import datetime, tzinfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from scalable_ai.course.calendar import course_calendar, course_markdown
from scalable_ai.course.clock import Clock
from scalable_ai.course.policy.schedule import UID_DOMAIN, CourseEvent, EventKind
from scalable_ai.course.service.actors import Actor, current_group_id
from scalable_ai.course.service.course import settings_of
from scalable_ai.course.service.setup import course_spec
from scalable_ai.course.tables import (
    Lecture,
    Person,
    Reservation,
    ReservationNode,
    ScribeAssignment,
    SignupSlot,
    SlotSignup,
)


def schedule_events(session: Session) -> list[CourseEvent]:
    """Every lecture, recess day, release, deadline and event, in date order (public)."""
    return course_spec(session).events()


def calendar_ics(session: Session, *, clock: Clock) -> bytes:
    """The course calendar as an .ics file; DTSTAMP is the course clock's now."""
    return course_calendar(course_spec(session), clock.now())


def schedule_markdown(session: Session) -> str:
    """The syllabus's "Lecture and Deadline Schedule" as a Markdown table."""
    return course_markdown(course_spec(session))


def _timed(
    uid: str,
    title: str,
    starts: datetime,
    ends: datetime,
    zone: tzinfo,
    location: str = "",
    description: str = "",
    kind: EventKind = EventKind.EVENT,
) -> CourseEvent:
    """A timed event; its day is the start's date in the course's time zone."""
    return CourseEvent(
        uid=f"{uid}@{UID_DOMAIN}",
        kind=kind,
        title=title,
        day=starts.astimezone(zone).date(),
        starts_at=starts,
        ends_at=ends,
        location=location,
        description=description,
    )


def personal_events(session: Session, person: Person) -> list[CourseEvent]:
    """What only this person's calendar holds, beyond the course's events."""
    from scalable_ai.course.service.submissions import assignment_statuses

    zone = settings_of(session).zone
    events: list[CourseEvent] = []
    for row in session.scalars(
        select(ScribeAssignment).where(ScribeAssignment.person_id == person.id)
    ):
        lecture = session.get(Lecture, row.lecture_id)
        if lecture is not None:
            events.append(
                CourseEvent(
                    uid=f"scribe-{row.id}@{UID_DOMAIN}",
                    kind=EventKind.EVENT,
                    title=f"You scribe L{lecture.number}. {lecture.title}",
                    day=lecture.held_on,
                    sequence=lecture.sequence,
                )
            )
    group_id = current_group_id(session, person.id)
    if group_id is not None:
        for signup in session.scalars(select(SlotSignup).where(SlotSignup.group_id == group_id)):
            slot = session.get(SignupSlot, signup.slot_id)
            if slot is not None:
                what = slot.kind.replace("_", " ")
                events.append(
                    _timed(
                        f"signup-{signup.id}",
                        f"Your group's {what}",
                        slot.starts_at,
                        slot.ends_at,
                        zone,
                        slot.location,
                    )
                )
        reservations = session.scalars(
            select(Reservation)
            .join(ReservationNode)
            .where(ReservationNode.group_id == group_id, Reservation.cancelled_at.is_(None))
            .distinct()
        )
        for reservation in reservations:
            names = " + ".join(n.node.name for n in reservation.nodes)
            state = "" if reservation.consented else " (awaiting consent)"
            events.append(
                _timed(
                    f"reservation-{reservation.id}",
                    f"Multi-node reservation {names}{state}",
                    reservation.starts_at,
                    reservation.ends_at,
                    zone,
                    description=reservation.purpose,
                )
            )
    for status in assignment_statuses(session, Actor.of(person), person.id):
        if status.deadline != status.due:
            why = status.exception_reason or "a slack day is applied"
            events.append(
                _timed(
                    f"deadline-{status.assignment.key}-{person.id}",
                    f"{status.assignment.key} due for you ({why})",
                    status.deadline,
                    status.deadline,
                    zone,
                    kind=EventKind.DEADLINE,
                )
            )
    return events


def personal_calendar_ics(session: Session, person: Person, *, clock: Clock) -> bytes:
    """The course calendar plus the person's own events (for their feed URL)."""
    spec = course_spec(session)
    events = sorted(
        [*spec.events(), *personal_events(session, person)], key=lambda e: (e.day, e.title)
    )
    return course_calendar(spec, clock.now(), events)
