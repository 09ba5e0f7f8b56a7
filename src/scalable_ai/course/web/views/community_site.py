"""The public course site: what anyone can read without signing in, rendered from the same
seeded data the platform runs on — the description, the staff, the policies, the grading
table, the schedule with lectures, releases and deadlines, the research directions once
released, and the calendar feed links.

Syllabus: "Website: https://scalable-ai.eecs.berkeley.edu/"; "Research directions released
(Jan 22): Posted on course site". Nothing here is typed twice: a change staff make (a moved
lecture) shows here as in the calendar.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from scalable_ai.course.community.service import project
from scalable_ai.course.policy.schedule import CourseEvent, EventKind
from scalable_ai.course.service.schedule import schedule_events
from scalable_ai.course.service.setup import course_spec
from scalable_ai.course.web.visit import Visit, open_visit

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
WEEKDAYS = ("Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays")


def schedule_by_day(events: list[CourseEvent]) -> list[tuple[date, list[CourseEvent]]]:
    """The schedule as the syllabus prints it: one row per day, lectures first."""
    order = {
        EventKind.LECTURE: 0,
        EventKind.RECESS: 1,
        EventKind.RELEASE: 2,
        EventKind.DEADLINE: 3,
        EventKind.EVENT: 4,
    }
    days: dict[date, list[CourseEvent]] = defaultdict(list)
    for event in events:
        days[event.day].append(event)
    return [(day, sorted(days[day], key=lambda e: order.get(e.kind, 9))) for day in sorted(days)]


@router.get("/course")
def course_site(visit: VisitDep) -> Response:
    spec = course_spec(visit.db)
    parts = {p.number: p.title for p in spec.parts}
    return visit.page(
        "community/site.html",
        title=spec.course.title,
        active="/course",
        spec=spec,
        parts=parts,
        days=schedule_by_day(schedule_events(visit.db)),
        weekdays=" & ".join(WEEKDAYS[d] for d in spec.meeting.weekdays),
        weekday_names=WEEKDAYS,
        directions=project.released_directions(visit.db, clock=visit.state.clock),
    )
