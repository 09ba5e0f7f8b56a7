"""The schedule as an iCalendar file and as a Markdown table.

iCalendar (RFC 5545) through the ``icalendar`` package: one VEVENT per lecture, recess day,
release, deadline and event, with a stable UID, a DTSTAMP (UTC, from the course clock) and a
SEQUENCE that staff changes raise, so subscribed calendars update events in place. Timed
events carry ``TZID=America/Los_Angeles`` and the file includes that VTIMEZONE; deadlines
are instants at the course deadline time (23:59 by default); releases, recess and the
poster session are all-day. Lecture events are titled as in the syllabus
("L1. Course Overview and the Modern AI Stack").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from icalendar import Calendar, Event

from scalable_ai.course.policy.schedule import PARTS, CourseEvent, EventKind
from scalable_ai.course.spec import CourseSpec

PRODID = "-//Scalable AI//Course Platform//EN"


def events_to_ical(
    events: Sequence[CourseEvent],
    now: datetime,
    *,
    name: str = "Scalable AI",
    timezone: str = "America/Los_Angeles",
    description: str = "",
) -> bytes:
    """Serialize events as one VCALENDAR. ``now`` (the course clock) is every DTSTAMP."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    stamp = now.astimezone(UTC)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", name)
    calendar.add("x-wr-timezone", timezone)
    if description:
        calendar.add("x-wr-caldesc", description)
    for item in events:
        calendar.add_component(_vevent(item, stamp))
    if events:
        first = min(e.day for e in events) - timedelta(days=366)
        last = max(e.day for e in events) + timedelta(days=366)
        calendar.add_missing_timezones(first_date=first, last_date=last)
    return calendar.to_ical()


def _vevent(item: CourseEvent, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", item.uid)
    event.add("dtstamp", stamp)
    event.add("sequence", item.sequence)
    event.add("summary", item.title)
    if item.starts_at is None:
        event.add("dtstart", item.day)
        event.add("dtend", item.day + timedelta(days=1))
        event.add("transp", "TRANSPARENT")
    else:
        event.add("dtstart", item.starts_at)
        if item.ends_at is not None and item.ends_at != item.starts_at:
            event.add("dtend", item.ends_at)
    if item.location:
        event.add("location", item.location)
    if item.description:
        event.add("description", item.description)
    event.add("categories", [item.kind.value])
    return event


def course_calendar(
    spec: CourseSpec, now: datetime, events: Sequence[CourseEvent] | None = None
) -> bytes:
    """The course's calendar: ``events`` (e.g. from the database, after staff changes) or
    the spec's own schedule."""
    events = spec.events() if events is None else events
    title = f"{spec.course.number}: {spec.course.title.split(':')[0]} ({spec.course.term})"
    return events_to_ical(
        events, now, name=title, timezone=spec.course.timezone, description=spec.course.title
    )


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown_title(item: CourseEvent) -> str:
    if item.kind is EventKind.LECTURE:
        return item.title
    return f"*{item.title}*"


def events_to_markdown(events: Sequence[CourseEvent], part_titles: Sequence[str] = PARTS) -> str:
    """The syllabus's "Lecture and Deadline Schedule" table: Date | Lecture / Event | Notes,
    with a row naming each part where its first lecture starts. Times are Berkeley time."""
    lines = ["| Date | Lecture / Event | Notes |", "| --- | --- | --- |"]
    part = None
    for item in events:
        if item.kind is EventKind.LECTURE and item.part is not None and item.part != part:
            part = item.part
            title = part_titles[part - 1] if 0 < part <= len(part_titles) else str(part)
            lines.append(f"| | **Part {part}: {_cell(title)}** | |")
        when = item.day.strftime("%a %b %-d")
        if item.starts_at is not None:
            when += " " + item.starts_at.strftime("%H:%M")
        notes = item.description
        if item.location and item.kind is EventKind.LECTURE:
            notes = f"{item.location}; {notes}" if notes else item.location
        lines.append(f"| {when} | {_cell(_markdown_title(item))} | {_cell(notes)} |")
    return "\n".join(lines) + "\n"


def course_markdown(spec: CourseSpec, events: Sequence[CourseEvent] | None = None) -> str:
    """The course's schedule as Markdown, headed by the course and its meeting pattern."""
    events = spec.events() if events is None else events
    m = spec.meeting
    head = (
        f"# {spec.course.number}: {spec.course.title} ({spec.course.term})\n\n"
        f"Lectures {m.starts:%H:%M}–{m.ends:%H:%M}, {m.room} (Berkeley time). "
        f"Deadlines at {spec.settings.deadline_time:%H:%M}.\n\n"
    )
    return head + events_to_markdown(events, [p.title for p in spec.parts])
