"""The schedule as the course stands now (after staff moved or retitled lectures): events,
the iCalendar file (RFC 5545, stable UIDs, rising SEQUENCE) and the Markdown table, from
:mod:`scalable_ai.course.calendar`."""

from __future__ import annotations

from sqlalchemy.orm import Session

from scalable_ai.course.calendar import course_calendar, course_markdown
from scalable_ai.course.clock import Clock
from scalable_ai.course.policy.schedule import CourseEvent
from scalable_ai.course.service.setup import course_spec


def schedule_events(session: Session) -> list[CourseEvent]:
    """Every lecture, recess day, release, deadline and event, in date order (public)."""
    return course_spec(session).events()


def calendar_ics(session: Session, *, clock: Clock) -> bytes:
    """The course calendar as an .ics file; DTSTAMP is the course clock's now."""
    return course_calendar(course_spec(session), clock.now())


def schedule_markdown(session: Session) -> str:
    """The syllabus's "Lecture and Deadline Schedule" as a Markdown table."""
    return course_markdown(course_spec(session))
