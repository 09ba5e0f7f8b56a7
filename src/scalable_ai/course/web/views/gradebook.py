"""Grades on the web: the student's running grade with what-if scores, and the staff grade
book (sorting, filters, a page per student, the distribution against the letter cut-offs,
CSV exports for Canvas and for the registrar).

The running grade (``policy.standing``) is what both read: ungraded work is pending, the gate
reads on track / at risk / failing from graded work only, and the letter is final only once
everything is graded (issue 13: on Mar 5 every student read "F — failing" before this).
Sorting and filtering are query parameters rendered by the server, so the page works without
JavaScript and under a strict Content-Security-Policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from scalable_ai.course.policy.standing import Standing
from scalable_ai.course.service import grades as grade_service
from scalable_ai.course.service.course import settings_of
from scalable_ai.course.spreadsheet import csv_text
from scalable_ai.course.web.visit import Visit, open_visit, refusal
from scalable_ai.errors import UserError

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
WHAT_IF_PREFIX = "what_if."
SORTS = {
    "name": lambda g: (g.person.name.lower(),),
    "projected": lambda g: (g.running.projected is None, -(g.running.projected or 0)),
    "earned": lambda g: (-g.running.earned,),
    "standing": lambda g: (
        {"failing": 0, "at risk": 1, "on track": 2}[g.running.standing],
        g.person.name.lower(),
    ),
}
BIN_WIDTH = 5  # percentage points per bar of the distribution chart


def _what_if(request: Request) -> dict[str, float]:
    """``what_if.A3.code=90`` query parameters as percentages (blank ones are skipped)."""
    values: dict[str, float] = {}
    for key, raw in request.query_params.items():
        if not key.startswith(WHAT_IF_PREFIX) or not raw.strip():
            continue
        item = key.removeprefix(WHAT_IF_PREFIX)
        try:
            values[item] = float(raw)
        except ValueError:
            raise UserError(f"what-if for {item}: {raw!r} is not a number", field=key) from None
    return values


def pending_items(visit: Visit, person_id: int) -> list[str]:
    """Score items with no score yet, the ones a what-if can fill."""
    recorded = {s.item for s in grade_service.scores_of(visit.db, visit.actor(), person_id)}
    return [
        item
        for item in grade_service.score_items(visit.db)
        if item not in recorded and item not in ("enhancements", "project.technical.peer")
    ]


def _grade_page(
    visit: Visit, person_id: int, *, template: str, title: str, active: str, back: str
) -> Response:
    try:
        what_if = _what_if(visit.request)
        grade = grade_service.grade_of(
            visit.db, visit.actor(), person_id, clock=visit.state.clock, what_if=what_if
        )
    except UserError as exc:
        if exc.status_code != 400:
            raise
        visit.session.flash("error", refusal(exc))
        return visit.redirect(back)
    return visit.page(
        template,
        title=title,
        active=active,
        student=grade.person,
        grade=grade.running,
        what_if=what_if,
        pending=pending_items(visit, person_id),
        scores=grade_service.scores_of(visit.db, visit.actor(), person_id),
    )


@router.get("/grade")
def my_grade(visit: VisitDep) -> Response:
    """The student's running grade and the what-if form."""
    me = visit.person()
    if me.is_staff:
        return visit.redirect("/staff/grades")
    return _grade_page(
        visit, me.id, template="grade.html", title="My grade", active="/grade", back="/grade"
    )


@dataclass(frozen=True)
class Bar:
    """One bar of the distribution: students whose total falls in [low, low + width)."""

    low: int
    count: int
    x: float
    height: float


def distribution(totals: Sequence[float]) -> list[Bar]:
    """Counts per ``BIN_WIDTH``-point bin from 0 to 100, scaled to the chart's 120 px."""
    counts = [0] * (100 // BIN_WIDTH)
    for total in totals:
        counts[min(int(total // BIN_WIDTH), len(counts) - 1)] += 1
    tallest = max(counts, default=0) or 1
    return [
        Bar(i * BIN_WIDTH, n, 40 + i * BIN_WIDTH * 6, round(120 * n / tallest, 1))
        for i, n in enumerate(counts)
    ]


@router.get("/staff/grades")
def grade_book(visit: VisitDep, sort: str = "name", standing: str = "", q: str = "") -> Response:
    """The grade book: every student's running grade, sortable and filterable."""
    visit.staff()
    book = grade_service.gradebook(visit.db, visit.actor(), clock=visit.state.clock)
    counts = {s.value: sum(1 for g in book if g.running.standing is s) for s in Standing}
    shown = [
        g
        for g in book
        if (not standing or g.running.standing.value == standing.replace("-", " "))
        and (not q or q.lower() in f"{g.person.name} {g.person.email}".lower())
    ]
    shown.sort(key=SORTS.get(sort, SORTS["name"]))
    totals = [g.running.final.total if g.running.complete else g.running.projected for g in book]
    first = book[0].running if book else None
    return visit.page(
        "staff/grades.html",
        title="Grade book",
        active="/staff/grades",
        book=shown,
        everyone=len(book),
        counts=counts,
        sort=sort,
        standing=standing,
        q=q,
        components=first.components if first else (),
        assignment_keys=[g.title for g in first.assignment_cores] if first else [],
        bars=distribution([t for t in totals if t is not None]),
        cutoffs=[
            (c.letter, c.minimum, 40 + c.minimum * 6)
            for c in settings_of(visit.db).letter_cutoffs
            if c.minimum > 0
        ],
    )


@router.get("/staff/grades/{person_id:int}")
def student_grade(visit: VisitDep, person_id: int) -> Response:
    """A page per student: the running grade, every recorded score, and a what-if."""
    visit.staff()
    return _grade_page(
        visit,
        person_id,
        template="staff/grade_one.html",
        title="Grade",
        active="/staff/grades",
        back="/staff/grades",
    )


def _csv(rows: list[list[Any]], filename: str) -> Response:
    return Response(
        csv_text(rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


@router.get("/staff/grades.csv")
def grade_csv(visit: VisitDep) -> Response:
    """The grade book as CSV: each component's score so far and status, the standing, the
    projected total, and the letter once final."""
    visit.staff()
    book = grade_service.gradebook(visit.db, visit.actor(), clock=visit.state.clock)
    rows: list[list[Any]] = []
    if book:
        gates = book[0].running.gates
        rows.append(
            [
                "name",
                "email",
                "sid",
                *[g.key for g in gates],
                *[f"{g.key}.status" for g in gates],
                "standing",
                "projected",
                "earned",
                "letter",
            ]
        )
    for grade in book:
        r = grade.running
        rows.append(
            [
                grade.person.name,
                grade.person.email,
                grade.person.sid or "",
                *[_num(g.so_far) for g in r.gates],
                *[g.status.value for g in r.gates],
                r.standing.value,
                _num(r.projected),
                _num(r.earned),
                r.letter,
            ]
        )
    return _csv(rows, "grades.csv")


@router.get("/staff/grades/canvas.csv")
def canvas_csv(visit: VisitDep) -> Response:
    """Canvas's gradebook import layout: ``Student, ID, SIS User ID, SIS Login ID, Section``
    then one column per graded item (Canvas matches rows by SIS User ID or login; ID stays
    blank since this platform has no Canvas ids)."""
    visit.staff()
    book = grade_service.gradebook(visit.db, visit.actor(), clock=visit.state.clock)
    rows: list[list[Any]] = [
        [
            "Student",
            "ID",
            "SIS User ID",
            "SIS Login ID",
            "Section",
            *[c.title for c in grading_columns()],
            "Final Score",
        ]
    ]
    for grade in book:
        r = grade.running
        rows.append(
            [
                grade.person.name,
                "",
                grade.person.sid or "",
                grade.person.email,
                "",
                *[_num(r.gate(c.key).so_far) for c in grading_columns()],
                _num(r.final.total if r.complete else r.projected),
            ]
        )
    return _csv(rows, "canvas-gradebook.csv")


def grading_columns() -> tuple[Any, ...]:
    from scalable_ai.course.policy.grading import COMPONENTS

    return COMPONENTS


@router.get("/staff/grades/letters.csv")
def registrar_csv(visit: VisitDep) -> Response:
    """The registrar's letter list (``SID, Name, Grade``), refused until every student's grade
    is final: a letter is never reported while work is still pending."""
    visit.staff()
    book = grade_service.gradebook(visit.db, visit.actor(), clock=visit.state.clock)
    pending = [g.person.name for g in book if not g.running.complete]
    if pending:
        visit.session.flash(
            "error",
            f"letters are final only once everything is graded: "
            f"{len(pending)} student(s) still have pending work "
            f"(first: {pending[0]})",
        )
        return visit.redirect("/staff/grades")
    return _csv(
        [
            ["SID", "Name", "Grade"],
            *[[g.person.sid or "", g.person.name, g.running.letter] for g in book],
        ],
        "letters.csv",
    )
