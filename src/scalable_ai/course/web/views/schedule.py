"""The schedule, a week at a time, and the iCalendar feed calendar apps subscribe to.

"Schedule assumes Tuesday/Thursday meetings … Deadlines (assignments and project milestones)
are included directly in the schedule" (syllabus). The feed URL carries the person's
calendar token (only its hash is stored; the owner can revoke it on the account page),
because calendar apps poll it without signing in.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from scalable_ai.course.calendar import course_calendar
from scalable_ai.course.clock import BERKELEY
from scalable_ai.course.policy.schedule import UID_DOMAIN, CourseEvent, EventKind
from scalable_ai.course.service.credentials import person_for_calendar_token
from scalable_ai.course.web.visit import Visit, open_visit
from scalable_ai.errors import NotFound, UserError

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
WEEKDAYS = 5  # lectures and deadlines fall Monday–Friday; weekend items join Friday's column


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


@router.get("/schedule")
def schedule(visit: VisitDep, week: str | None = None, view: str = "week") -> Response:
    visit.person()
    spec, events = visit.state.schedule.current(visit.db)
    today = visit.now.astimezone(BERKELEY).date()
    try:
        monday = _monday(date.fromisoformat(week) if week else today)
    except ValueError:
        raise UserError(f"not a date: {week!r} (use YYYY-MM-DD)", field="week") from None
    days = [monday + timedelta(days=i) for i in range(WEEKDAYS)]
    by_day: dict[date, list] = {day: [] for day in days}
    for event in events:
        if monday <= event.day < monday + timedelta(days=7):
            column = min(event.day, days[-1])
            by_day[column].append(event)
    return visit.page(
        "schedule.html",
        title="Schedule",
        active="/schedule",
        view=view,
        events=events,
        days=days,
        by_day=by_day,
        today=today,
        part_titles=[p.title for p in spec.parts],
        previous_week=(monday - timedelta(days=7)).isoformat(),
        next_week=(monday + timedelta(days=7)).isoformat(),
        this_week=_monday(today).isoformat(),
        meeting=spec.meeting,
    )


def personal_events(visit: Visit, person: Any) -> list[CourseEvent]:
    """The feed owner's own entries on top of the course's: the lectures they scribe and
    their group's checkoff slots (stable UIDs, so calendar apps update rather than
    duplicate them)."""
    from scalable_ai.course.service import Actor
    from scalable_ai.course.service.groups import my_group
    from scalable_ai.course.web import panels

    actor = Actor.of(person)
    mine: list[CourseEvent] = []
    for lecture, _row in panels.my_scribe_lectures(visit.db, actor, person.id):
        mine.append(
            CourseEvent(
                uid=f"scribe-{lecture.key}-{person.id}@{UID_DOMAIN}",
                kind=EventKind.EVENT,
                title=f"You scribe L{lecture.number}. {lecture.title}",
                day=lecture.held_on,
                description="Scribe notes for this lecture (2 per student)",
            )
        )
    for slot in panels.my_checkoffs(visit.db, actor, my_group(visit.db, actor)):
        mine.append(
            CourseEvent(
                uid=f"slot-{slot.id}-{person.id}@{UID_DOMAIN}",
                kind=EventKind.EVENT,
                title=f"Checkoff ({slot.kind.replace('_', ' ')})",
                day=slot.starts_at.date(),
                starts_at=slot.starts_at,
                ends_at=slot.ends_at,
                location=slot.location,
            )
        )
    return mine


@router.get("/calendar/{token}.ics")
def calendar_feed(visit: VisitDep, token: str) -> Response:
    """The iCalendar feed: works without a session, refuses a revoked or unknown token."""
    person = person_for_calendar_token(visit.db, token)
    if person is None:
        raise NotFound(
            "this calendar link is unknown or was revoked; make a new one on your account page",
            field="token",
        )
    spec, events = visit.state.schedule.current(visit.db)
    body = course_calendar(spec, visit.now, [*events, *personal_events(visit, person)])
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={
            "Content-Disposition": 'inline; filename="scalable-ai.ics"',
            "Cache-Control": "private, max-age=300",
        },
    )
