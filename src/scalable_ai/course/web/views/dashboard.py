"""The student's dashboard: where they stand at a glance.

Next deadlines with a countdown, slack days left, group, node and its IP, scribe lectures,
checkoff slot, the current announcements (issue 5: "announcements that appear on every
dashboard") and the grade so far by component with the satisfactory flags — because
"Failing any one of them fails the class" (syllabus, Grading), each component shows its flag.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from scalable_ai.course.policy.schedule import EventKind
from scalable_ai.course.service.groups import my_group
from scalable_ai.course.web import panels
from scalable_ai.course.web.visit import Visit, open_visit

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
DEADLINES_SHOWN = 5


@router.get("/")
def dashboard(visit: VisitDep) -> Response:
    me = visit.person()
    if me.is_staff:
        return visit.redirect("/staff")
    actor = visit.actor()
    now = visit.now
    upcoming = [
        e
        for e in visit.state.schedule.events(visit.db)
        if e.kind is EventKind.DEADLINE and e.starts_at and e.starts_at >= now
    ]
    group = my_group(visit.db, actor)
    balance, grade = panels.my_standing(visit.db, actor, me.id, clock=visit.state.clock)
    return visit.page(
        "dashboard.html",
        title="Dashboard",
        active="/",
        deadlines=upcoming[:DEADLINES_SHOWN],
        balance=balance,
        grade=grade,
        group=group,
        scribing=panels.my_scribe_lectures(visit.db, actor, me.id),
        checkoffs=panels.my_checkoffs(visit.db, actor, group),
        announcements=panels.current_announcements(visit.db, actor, now),
    )
