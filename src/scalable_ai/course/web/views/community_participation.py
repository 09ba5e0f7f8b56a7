"""Attendance and participation: students check in to a lecture with its code and see their
ledger; staff open check-in (the code to show in the room), mark attendance, credit in-class
contributions and read the class's participation table.

Syllabus: "Attendance is required. Participation includes: contributing to in-class
discussions and project check-ins; posting and answering questions on Ed; providing
constructive comments on lecture notes and slides." Rules:
``course.community.service.participation``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy import select

from scalable_ai.course.community.participation_rules import CREDIT_KINDS
from scalable_ai.course.community.service import participation
from scalable_ai.course.tables import Lecture, Person
from scalable_ai.course.web.visit import Visit, checked_form, open_visit

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]


def _todays_lecture(visit: Visit) -> Lecture | None:
    held = participation.lectures_held(visit.db, visit.state.clock)
    return held[-1] if held else None


@router.get("/check-in")
def check_in_page(visit: VisitDep) -> Response:
    visit.person()
    held = list(participation.lectures_held(visit.db, visit.state.clock))[::-1][:6]
    return visit.page(
        "community/check_in.html", title="Check in", active="/check-in", lectures=held
    )


@router.post("/check-in")
def check_in(visit: VisitDep, form: FormDep) -> Response:
    visit.person()
    key = str(form.get("lecture") or "")
    return visit.act(
        lambda: participation.check_in(
            visit.db, visit.actor(), key, code=str(form.get("code") or ""), clock=visit.state.clock
        ),
        back="/check-in",
        ok=f"Checked in to {key}.",
    )


@router.get("/participation")
def my_participation(visit: VisitDep) -> Response:
    me = visit.person()
    if me.is_staff:
        return visit.redirect("/staff/participation")
    summary = participation.summary(visit.db, visit.actor(), me.id, clock=visit.state.clock)
    return visit.page(
        "community/participation.html",
        title="Participation",
        active="/participation",
        summary=summary,
    )


@router.get("/staff/attendance")
def attendance_page(
    visit: VisitDep, lecture: Annotated[str, Query(max_length=16)] = ""
) -> Response:
    visit.staff()
    actor = visit.actor()
    lectures = visit.db.scalars(select(Lecture).order_by(Lecture.number)).all()
    chosen = next((lec for lec in lectures if lec.key == lecture), None) or _todays_lecture(visit)
    window = participation.check_in_code(visit.db, actor, chosen.key) if chosen else None
    present = (
        {a.person_id: a for a in participation.attendance_of(visit.db, actor, chosen.key)}
        if chosen
        else {}
    )
    students = visit.db.scalars(
        select(Person)
        .where(Person.role == "student", Person.active.is_(True))
        .order_by(Person.name)
    ).all()
    return visit.page(
        "community/attendance.html",
        title="Attendance",
        active="/staff/attendance",
        lectures=lectures,
        lecture=chosen,
        window=window,
        present=present,
        students=students,
    )


@router.post("/staff/attendance/{key}/open")
def open_check_in(visit: VisitDep, form: FormDep, key: str) -> Response:
    visit.staff()
    return visit.act(
        lambda: participation.open_check_in(visit.db, visit.actor(), key, clock=visit.state.clock),
        back=f"/staff/attendance?lecture={key}",
        ok=lambda w: f"Check-in open: show the code {w.code} in the room.",
    )


@router.post("/staff/attendance/{key}/mark")
def mark(visit: VisitDep, form: FormDep, key: str) -> Response:
    visit.staff()
    raw = form.get("person_id") or []
    ids = [int(v) for v in (raw if isinstance(raw, list) else [raw]) if str(v).isdigit()]
    return visit.act(
        lambda: participation.mark_attendance(
            visit.db, visit.actor(), key, ids, clock=visit.state.clock
        ),
        back=f"/staff/attendance?lecture={key}",
        ok=lambda rows: f"{len(rows)} marked present.",
    )


@router.get("/staff/participation")
def class_participation(visit: VisitDep) -> Response:
    visit.staff()
    rows = participation.class_summary(visit.db, visit.actor(), clock=visit.state.clock)
    return visit.page(
        "community/participation_staff.html",
        title="Participation",
        active="/staff/participation",
        rows=rows,
        kinds=CREDIT_KINDS,
    )


@router.post("/staff/participation/{person_id}/credit")
def credit(visit: VisitDep, form: FormDep, person_id: int) -> Response:
    visit.staff()
    return visit.act(
        lambda: participation.credit(
            visit.db,
            visit.actor(),
            person_id,
            kind=str(form.get("kind") or ""),
            note=str(form.get("note") or ""),
            clock=visit.state.clock,
        ),
        back="/staff/participation",
        ok="Contribution credited.",
    )


@router.post("/staff/participation/grade-book")
def to_grade_book(visit: VisitDep, form: FormDep) -> Response:
    visit.staff()
    return visit.act(
        lambda: participation.record_in_grade_book(
            visit.db, visit.actor(), clock=visit.state.clock
        ),
        back="/staff/participation",
        ok=lambda n: f"Participation scores of {n} students written to the grade book.",
    )
