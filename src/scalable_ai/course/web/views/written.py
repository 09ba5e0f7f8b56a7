"""Conceptual questions on the platform: a group answers each in Markdown with math (``$..$``,
typeset by KaTeX on the server, ``course/mathtext.py``) or as a PDF; staff grade the answers
with the kit's rubric (Gradescope's way: items with points, an adjustment, a comment), change
an item's points (every answer using it is re-scored) and follow grading progress per
question. The rules live in ``course/service/written_answers.py``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from scalable_ai.course.mathtext import render_markdown_math
from scalable_ai.course.service import written_answers as written
from scalable_ai.course.service.course import assignment_by_key
from scalable_ai.course.tables import Group
from scalable_ai.course.upload_limits import SCRIBE_PDF_BYTES, UPLOAD_ROUTE_BYTES
from scalable_ai.course.web.visit import Visit, checked_form, open_visit
from scalable_ai.errors import UserError

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]


@router.get("/assignments/{key}/questions")
def questions_page(visit: VisitDep, key: str) -> Response:
    assignment = assignment_by_key(visit.db, key)
    questions = written.questions_of(assignment.key)
    answers = {
        a.question_id: (a, score, render_markdown_math(a.text))
        for a, score in written.list_answers(visit.db, visit.actor(), assignment=assignment.key)
    }
    return visit.page(
        "written.html",
        title=f"{assignment.key}: conceptual questions",
        active="/assignments",
        assignment=assignment,
        questions=[
            (q, render_markdown_math(q.prompt), answers.get(q.id)) for q in questions.questions
        ],
    )


def _held_pdf(form: dict[str, Any]):  # type: ignore[no-untyped-def]
    """The answer's PDF, checked (a PDF by its first bytes, at most a scribe PDF's size)."""
    from scalable_ai.course.web.views.assignments import hold_upload

    upload = form.get("pdf")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    upload.file.seek(0)
    if upload.file.read(5) != b"%PDF-":
        raise UserError(f"{upload.filename} is not a PDF", field="pdf")
    held = hold_upload(upload)
    if held.size > SCRIBE_PDF_BYTES:
        raise UserError(f"an answer's PDF is at most {SCRIBE_PDF_BYTES // 2**20} MiB", field="pdf")
    return held


@router.post(
    "/assignments/{key}/questions/{question_id}",
    max_body_size=UPLOAD_ROUTE_BYTES["written_answer"],
)
def answer(visit: VisitDep, form: FormDep, key: str, question_id: str) -> Response:
    assignment = assignment_by_key(visit.db, key)
    data_dir = Path(visit.state.settings.data_dir)

    def use_case():  # type: ignore[no-untyped-def]
        held = _held_pdf(form)
        row = written.answer_question(
            visit.db,
            visit.actor(),
            assignment=assignment.key,
            question_id=question_id,
            text=str(form.get("text") or ""),
            clock=visit.state.clock,
            pdf_link=held.link if held else None,
        )
        if held is not None:
            held.keep(data_dir)
        return row

    return visit.act(
        use_case,
        back=f"/assignments/{assignment.key}/questions",
        ok=f"Answer to question {question_id} saved.",
        keep=form,
    )


@router.get("/staff/assignments/{key}/written")
def grading_page(visit: VisitDep, key: str) -> Response:
    visit.staff()
    assignment = assignment_by_key(visit.db, key)
    questions = written.questions_of(assignment.key)
    changed = written.item_points(visit.db, assignment.key)
    answers = written.list_answers(visit.db, visit.actor(), assignment=assignment.key)
    groups = {a.group_id: visit.db.get(Group, a.group_id) for a, _ in answers}
    by_question = {
        q.id: [(a, score, groups[a.group_id], render_markdown_math(a.text)) for a, score in answers if a.question_id == q.id]
        for q in questions.questions
    }  # fmt: skip
    return visit.page(
        "staff/written.html",
        title=f"{assignment.key}: grade written answers",
        active="/staff/assignments",
        assignment=assignment,
        questions=questions.questions,
        points={(q, i): p for (q, i), p in changed.items()},
        by_question=by_question,
        progress=written.grading_progress(visit.db, visit.actor(), assignment.key),
    )


def _number(form: dict[str, Any], name: str, default: float = 0.0) -> float:
    text = str(form.get(name) or "").strip()
    if not text:
        return default
    try:
        return float(text)
    except ValueError:
        raise UserError(f"{text!r} is not a number", field=name) from None


@router.post("/staff/written-answers/{answer_id}/grade")
def grade(visit: VisitDep, form: FormDep, answer_id: int) -> Response:
    visit.staff()
    items = [name.removeprefix("item-") for name in form if name.startswith("item-")]
    key = str(form.get("assignment") or "A4")
    return visit.act(
        lambda: written.grade_answer(
            visit.db,
            visit.actor(),
            answer_id,
            applied_items=items,
            adjustment=_number(form, "adjustment"),
            comment=str(form.get("comment") or ""),
            clock=visit.state.clock,
        ),
        back=f"/staff/assignments/{key}/written",
        ok="Answer graded; the group's written score is updated.",
    )


@router.post("/staff/assignments/{key}/rubric/{question_id}/{item_id}")
def change_points(
    visit: VisitDep, form: FormDep, key: str, question_id: str, item_id: str
) -> Response:
    visit.staff()
    assignment = assignment_by_key(visit.db, key)
    return visit.act(
        lambda: written.change_item_points(
            visit.db,
            visit.actor(),
            assignment=assignment.key,
            question_id=question_id,
            item_id=item_id,
            points=_number(form, "points"),
            clock=visit.state.clock,
        ),
        back=f"/staff/assignments/{assignment.key}/written",
        ok=lambda groups: f"Item {item_id} changed; {len(groups)} group(s) re-scored.",
    )
