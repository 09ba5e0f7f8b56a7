"""The oral checkoff's rubric page: at the checkoff slot staff tick each criterion's items for
the group in front of them; the group's checkoff part is recomputed into the grade book. The
rules live in ``course/service/checkoff_grading.py``; the criteria in the kit's
``checkoff.yaml``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy import select

from scalable_ai.course.service import checkoff_grading as checkoff
from scalable_ai.course.service import groups as group_service
from scalable_ai.course.service.course import assignment_by_key
from scalable_ai.course.tables import SignupSlot, SlotSignup
from scalable_ai.course.web.visit import Visit, checked_form, open_visit
from scalable_ai.errors import UserError

router = APIRouter(prefix="/staff")
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]


@router.get("/assignments/{key}/checkoff")
def checkoff_page(visit: VisitDep, key: str) -> Response:
    visit.staff()
    assignment = assignment_by_key(visit.db, key)
    rubric = checkoff.checkoff_rubric(assignment.key)
    groups = [g for g in group_service.list_groups(visit.db, visit.actor()) if g.members]
    slots = {
        signup.group_id: slot
        for signup, slot in visit.db.execute(
            select(SlotSignup, SignupSlot)
            .join(SignupSlot, SlotSignup.slot_id == SignupSlot.id)
            .where(SignupSlot.kind == "checkoff", SignupSlot.assignment_id == assignment.id)
        ).all()
    }
    rows = [
        (
            group,
            slots.get(group.id),
            checkoff.group_grades(visit.db, assignment.key, group.id),
            checkoff.group_score(visit.db, assignment.key, group.id),
        )
        for group in groups
    ]
    rows.sort(key=lambda row: (row[1] is None, row[1].starts_at if row[1] else None, row[0].name))
    return visit.page(
        "staff/checkoff_rubric.html",
        title=f"{assignment.key}: checkoff rubric",
        active="/staff/assignments",
        assignment=assignment,
        criteria=rubric.questions,
        maximum=rubric.points,
        rows=rows,
    )


def _number(form: dict[str, Any], name: str) -> float:
    text = str(form.get(name) or "").strip()
    try:
        return float(text) if text else 0.0
    except ValueError:
        raise UserError(f"{text!r} is not a number", field=name) from None


@router.post("/assignments/{key}/checkoff/{group_id}/{criterion_id}")
def grade(visit: VisitDep, form: FormDep, key: str, group_id: int, criterion_id: str) -> Response:
    visit.staff()
    assignment = assignment_by_key(visit.db, key)
    items = [name.removeprefix("item-") for name in form if name.startswith("item-")]
    return visit.act(
        lambda: checkoff.grade_checkoff(
            visit.db,
            visit.actor(),
            assignment=assignment.key,
            group_id=group_id,
            criterion_id=criterion_id,
            applied_items=items,
            adjustment=_number(form, "adjustment"),
            comment=str(form.get("comment") or ""),
            clock=visit.state.clock,
        ),
        back=f"/staff/assignments/{assignment.key}/checkoff#group-{group_id}",
        ok=f"Checkoff criterion {criterion_id} graded; the group's checkoff score is updated.",
    )
