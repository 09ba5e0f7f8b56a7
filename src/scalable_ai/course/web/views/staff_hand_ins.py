"""Grading in the browser: a staff page per assignment with a row per group.

Each row shows the members, what the group handed in (the link or the file), how it was
accepted (on time, with a slack day, under an exception, or missing) and the scores per part
(code, written, checkoff, enhancement) with a note. The whole table is one form, so staff
grade every group and save once (the bulk action); a score that did not change is not
written again. Issue 13: "/assignments/A2 as staff lists hand-ins with an empty 'What' column
and no group ... scores can be entered only through the CLI or API."
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy import select

from scalable_ai.course.service import grades as grade_service
from scalable_ai.course.service import groups as group_service
from scalable_ai.course.service import submissions as submission_service
from scalable_ai.course.service.course import assignment_by_key
from scalable_ai.course.tables import Assignment, Group, Score, Submission
from scalable_ai.course.web.visit import Visit, checked_form, open_visit
from scalable_ai.errors import UserError

router = APIRouter(prefix="/staff")
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]
PARTS = ("code", "written", "checkoff", "enhancement")


def rubric_parts(key: str) -> dict[str, str]:
    """Parts another page computes from a kit's rubric, shown read-only here (one writer per
    score: typing a percent over a rubric's sum would be overwritten at the next grading
    action): part -> the page that grades it."""
    from scalable_ai.course.service.checkoff_grading import has_checkoff_rubric
    from scalable_ai.kits.kit import kits_root

    parts = {}
    if (kits_root() / key / "questions.yaml").is_file():
        parts["written"] = f"/staff/assignments/{key}/written"
    if has_checkoff_rubric(key):
        parts["checkoff"] = f"/staff/assignments/{key}/checkoff"
    return parts


@dataclass(frozen=True)
class GroupRow:
    """One group's line on the hand-ins page."""

    group: Group
    latest: Submission | None
    how: str  # on time / slack day / exception / missing / not due yet
    deadline: datetime | None
    scores: dict[str, float | None]  # part -> percent when every member has the same score
    mixed: tuple[str, ...]  # parts where members' scores differ
    note: str


def how_accepted(latest: Submission | None, deadline: datetime | None, now: datetime) -> str:
    """How a hand-in was accepted, in the course's words, or why there is none."""
    if latest is None:
        return "missing" if deadline is not None and now > deadline else "not handed in yet"
    if latest.slack_day_used:
        return "slack day"
    if latest.deadline_reason.startswith("accepted under the exception"):
        return "exception"
    return "on time"


def _group_rows(visit: Visit, assignment: Assignment) -> list[GroupRow]:
    actor = visit.actor()
    groups = [g for g in group_service.list_groups(visit.db, actor) if g.members]
    latest: dict[int, Submission] = {}
    for row in submission_service.list_submissions(visit.db, actor, assignment=assignment.key):
        if row.group_id is not None:
            latest[row.group_id] = row  # oldest first: the last one wins
    items = [f"{assignment.key}.{part}" for part in PARTS]
    stored: dict[tuple[int, str], Score] = {
        (s.person_id, s.item): s
        for s in visit.db.scalars(select(Score).where(Score.item.in_(items)))
    }
    rows = []
    for group in groups:
        status = next(
            s
            for s in submission_service.assignment_statuses(visit.db, actor, group.members[0].id)
            if s.assignment.id == assignment.id
        )
        scores: dict[str, float | None] = {}
        mixed = []
        notes = set()
        for part in PARTS:
            values = set()
            for member in group.members:
                score = stored.get((member.id, f"{assignment.key}.{part}"))
                values.add(None if score is None else 100 * score.points / score.max_points)
                if score is not None and score.comment:
                    notes.add(score.comment)
            if len(values) > 1:
                mixed.append(part)
            scores[part] = values.pop() if len(values) == 1 else None
        rows.append(
            GroupRow(
                group,
                latest.get(group.id),
                how_accepted(latest.get(group.id), status.deadline, visit.now),
                status.deadline,
                scores,
                tuple(mixed),
                "; ".join(sorted(notes)),
            )
        )
    return rows


@router.get("/assignments/{key}")
def hand_ins(visit: VisitDep, key: str) -> Response:
    visit.staff()
    assignment = assignment_by_key(visit.db, key)
    rows = _group_rows(visit, assignment)
    counts = {
        h: sum(1 for r in rows if r.how == h)
        for h in ("on time", "slack day", "exception", "missing")
    }
    return visit.page(
        "staff/hand_ins.html",
        title=f"{assignment.key} hand-ins",
        active="/staff/assignments",
        assignment=assignment,
        rows=rows,
        parts=PARTS,
        locked=rubric_parts(assignment.key),
        counts=counts,
        assignments=visit.db.scalars(select(Assignment).order_by(Assignment.key)).all(),
    )


@router.get("/assignments")
def first_assignment(visit: VisitDep) -> Response:
    """The hand-ins page of the assignment due next (or the last one)."""
    visit.staff()
    rows = visit.db.scalars(select(Assignment).order_by(Assignment.due_on)).all()
    today = visit.now.date()
    upcoming = [a for a in rows if a.released_on <= today]
    chosen = upcoming[-1] if upcoming else rows[0]
    return visit.redirect(f"/staff/assignments/{chosen.key}")


def _percent(form: dict[str, Any], name: str) -> float | None:
    text = str(form.get(name) or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise UserError(
            f"{text!r} is not a number (a score is a percentage, 0 to 100)", field=name
        ) from None
    return value


@router.post("/assignments/{key}/scores")
def save_scores(visit: VisitDep, form: FormDep, key: str) -> Response:
    """Record every changed score on the page, for every member of each group, in one unit
    of work: all or nothing, and the refusal names the group and part."""
    visit.staff()
    assignment = assignment_by_key(visit.db, key)
    back = f"/staff/assignments/{assignment.key}"

    locked = rubric_parts(assignment.key)

    def use_case() -> int:
        written = 0
        for row in _group_rows(visit, assignment):
            note = str(form.get(f"note-{row.group.id}") or "").strip()
            for part in PARTS:
                if part in locked:
                    continue
                name = f"score-{row.group.id}-{part}"
                value = _percent(form, name)
                if value is None or (value == row.scores[part] and note == row.note):
                    continue
                try:
                    grade_service.record_group_score(
                        visit.db,
                        visit.actor(),
                        group_id=row.group.id,
                        item=f"{assignment.key}.{part}",
                        points=value,
                        max_points=100,
                        comment=note,
                        clock=visit.state.clock,
                    )
                except UserError as exc:
                    raise UserError(
                        f"{row.group.name}, {part}: {exc.message}", field=name
                    ) from None
                written += 1
        return written

    return visit.act(
        use_case,
        back=back,
        ok=lambda n: f"Saved {n} score(s) for {assignment.key}." if n else "Nothing changed.",
        keep=form,
    )


#: What "0 for a missing hand-in" covers: the core parts (the enhancement is optional).
MISSING_PARTS = ("code", "written", "checkoff")


@router.post("/assignments/{key}/zero-missing")
def zero_missing(visit: VisitDep, form: FormDep, key: str) -> Response:
    """The bulk action (issue 13): 0 on the core parts for every group whose hand-in is
    missing after its own deadline (exceptions and slack days counted), leaving any part
    staff already scored as it is. One unit of work."""
    visit.staff()
    assignment = assignment_by_key(visit.db, key)

    def use_case() -> list[str]:
        zeroed = []
        for row in _group_rows(visit, assignment):
            if row.how != "missing":
                continue
            for part in MISSING_PARTS:
                if row.scores[part] is None and part not in row.mixed:
                    grade_service.record_group_score(
                        visit.db,
                        visit.actor(),
                        group_id=row.group.id,
                        item=f"{assignment.key}.{part}",
                        points=0,
                        max_points=100,
                        comment="missing: nothing handed in by the deadline",
                        clock=visit.state.clock,
                    )
            zeroed.append(row.group.name)
        return zeroed

    return visit.act(
        use_case,
        back=f"/staff/assignments/{assignment.key}",
        ok=lambda names: (
            f"0 recorded for {len(names)} missing group(s): {', '.join(names)}."
            if names
            else "No group is missing a hand-in."
        ),
    )
