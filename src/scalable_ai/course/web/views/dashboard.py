"""The student's dashboard: where they stand at a glance.

Next deadlines with a countdown, slack days left, group, node and its IP, scribe lectures,
checkoff slot, the current announcements (issue 5: "announcements that appear on every
dashboard") and the grade so far by component with the satisfactory flags — because
"Failing any one of them fails the class" (syllabus, Grading), each component shows its flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from scalable_ai.course.policy.schedule import EventKind, released_at
from scalable_ai.course.service.course import settings_of
from scalable_ai.course.service.submissions import assignment_statuses
from scalable_ai.course.web import panels
from scalable_ai.course.web.visit import Visit, open_visit

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
DEADLINES_SHOWN = 5


@dataclass(frozen=True)
class Deadline:
    """One line of "Next deadlines": the deadline that applies to this student."""

    title: str
    starts_at: datetime
    note: str = ""
    handed_in: bool = False


def my_deadlines(visit: Visit, actor: Any, person_id: int) -> list[Deadline]:
    """The student's next deadlines: each released assignment at the deadline that applies to
    them (an approved exception's, or 24 h later once their group spent a slack day), and the
    project's milestones. Work not released yet is left out (issue 13: after an exception
    moved A3 to Mar 12 the dashboard still said Mar 10, and A4/A5 showed before release)."""
    now = visit.now
    settings = settings_of(visit.db)
    rows = []
    for status in assignment_statuses(visit.db, actor, person_id):
        a = status.assignment
        if released_at(a.released_on, settings) > now or status.deadline < now:
            continue
        note = (
            f"exception: {status.exception_reason}"
            if status.exception_reason
            else "with your group's slack day"
            if status.slack_day_applied
            else ""
        )
        rows.append(
            Deadline(
                f"{a.key} due ({a.title})", status.deadline, note, status.submission is not None
            )
        )
    for event in visit.state.schedule.events(visit.db):
        if (
            event.kind is EventKind.DEADLINE
            and event.starts_at
            and event.starts_at >= now
            and not event.uid.startswith("deadline-")
        ):
            rows.append(Deadline(event.title, event.starts_at))
    rows.sort(key=lambda d: d.starts_at)
    return rows


@router.get("/")
def dashboard(visit: VisitDep) -> Response:
    me = visit.person()
    if me.is_staff:
        return visit.redirect("/staff")
    actor = visit.actor()
    now = visit.now
    upcoming = my_deadlines(visit, actor, me.id)
    card = panels.my_group_card(visit.db, actor)
    group, members = card if card is not None else (None, 0)
    balance, grade = panels.my_standing(visit.db, actor, me.id, clock=visit.state.clock)
    return visit.page(
        "dashboard.html",
        title="Dashboard",
        active="/",
        deadlines=upcoming[:DEADLINES_SHOWN],
        balance=balance,
        grade=grade,
        group=group,
        members=members,
        scribing=panels.my_scribe_lectures(visit.db, actor, me.id),
        checkoffs=panels.my_checkoffs(visit.db, actor, group),
        announcements=panels.current_announcements(visit.db, actor, now),
    )
