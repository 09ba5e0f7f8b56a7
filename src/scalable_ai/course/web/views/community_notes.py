"""Lecture notes: each lecture's page with the accepted scribe notes and the class's
comments; scribes hand in their notes there; staff review scribe notes.

Syllabus: participation includes "providing constructive comments on lecture notes and
slides"; "Each student is expected to scribe 2 lectures ... If you use external sources or
AI tools, you must cite them clearly." Rules: ``course.community.service.notes``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy import select
from starlette.datastructures import UploadFile

from scalable_ai.course.community.markdown import render_markdown
from scalable_ai.course.community.service import forum, notes
from scalable_ai.course.service.course import lecture_by_key
from scalable_ai.course.tables import Lecture
from scalable_ai.course.upload_limits import UPLOAD_ROUTE_BYTES
from scalable_ai.course.web.visit import Visit, checked_form, open_visit
from scalable_ai.errors import UserError

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]


@router.get("/lectures")
def lectures_page(visit: VisitDep) -> Response:
    me = visit.person()
    lectures = visit.db.scalars(select(Lecture).order_by(Lecture.number)).all()
    mine = (
        {a.lecture_id for a in notes.my_scribe_lectures(visit.db, visit.actor(), me.id)}
        if not me.is_staff
        else set()
    )
    return visit.page(
        "community/lectures.html",
        title="Lecture notes",
        active="/lectures",
        lectures=lectures,
        mine=mine,
    )


@router.get("/lectures/{key}")
def lecture_page(visit: VisitDep, key: str) -> Response:
    me = visit.person()
    actor = visit.actor()
    lecture = lecture_by_key(visit.db, key)
    accepted = [(n, render_markdown(n.body)) for n in notes.accepted_notes(visit.db, key)]
    comments = [(c, render_markdown(c.body)) for c in notes.note_comments(visit.db, actor, key)]
    is_scribe = not me.is_staff and notes.scribe_assignment(visit.db, lecture.id, me.id)
    versions = (
        [n for n in notes.scribe_notes_of(visit.db, actor, me.id) if n.lecture_id == lecture.id]
        if is_scribe
        else []
    )
    questions = [
        forum.thread_view(actor, t, with_posts=False)
        for t in forum.threads_about_lecture(visit.db, actor, lecture.id)
    ]
    return visit.page(
        "community/lecture.html",
        title=f"{lecture.key}. {lecture.title}",
        active="/lectures",
        lecture=lecture,
        accepted=accepted,
        comments=comments,
        is_scribe=bool(is_scribe),
        versions=versions,
        questions=questions,
    )


@router.post("/lectures/{key}/comment")
def comment(visit: VisitDep, form: FormDep, key: str) -> Response:
    visit.person()
    return visit.act(
        lambda: notes.comment_on_notes(
            visit.db, visit.actor(), key, body=str(form.get("body") or ""), clock=visit.state.clock
        ),
        back=f"/lectures/{key}",
        ok="Comment posted: thank you for improving the notes.",
    )


@router.post("/lectures/{key}/scribe", max_body_size=UPLOAD_ROUTE_BYTES["scribe_notes"])
async def submit_scribe_notes(visit: VisitDep, form: FormDep, key: str) -> Response:
    visit.person()
    upload = form.get("pdf")
    pdf = await upload.read() if isinstance(upload, UploadFile) else None
    filename = upload.filename if isinstance(upload, UploadFile) else ""
    fmt = "pdf" if pdf else "markdown"

    def use_case() -> Any:
        if fmt == "markdown" and not str(form.get("body") or "").strip():
            raise UserError("paste your notes in Markdown or attach a PDF", field="body")
        return notes.submit_scribe_note(
            visit.db,
            visit.actor(),
            key,
            format=fmt,
            body=str(form.get("body") or ""),
            pdf=pdf,
            filename=filename or "",
            clock=visit.state.clock,
            sources_statement=str(form.get("sources_statement") or ""),
        )

    return visit.act(
        use_case,
        back=f"/lectures/{key}",
        ok=lambda n: f"Scribe notes version {n.version} handed in; staff will review them.",
    )


@router.get("/scribe-notes/{note_id}")
def scribe_note_file(visit: VisitDep, note_id: int) -> Response:
    visit.person()
    note = notes.show_scribe_note(visit.db, visit.actor(), note_id)
    if note.format == "pdf" and note.pdf is not None:
        return Response(
            note.pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{note.lecture.key}-notes.pdf"'},
        )
    return Response(note.body, media_type="text/plain; charset=utf-8")


@router.get("/staff/scribe-notes")
def review_page(visit: VisitDep) -> Response:
    visit.staff()
    pending = [
        (n, render_markdown(n.body)) for n in notes.pending_scribe_notes(visit.db, visit.actor())
    ]
    return visit.page(
        "community/scribe_review.html",
        title="Scribe notes to review",
        active="/staff/scribe-notes",
        pending=pending,
    )


@router.post("/staff/scribe-notes/{note_id}/review")
def review(visit: VisitDep, form: FormDep, note_id: int) -> Response:
    visit.staff()
    decision = str(form.get("decision") or "")
    return visit.act(
        lambda: notes.review_scribe_note(
            visit.db,
            visit.actor(),
            note_id,
            decision=decision,
            feedback=str(form.get("feedback") or ""),
            clock=visit.state.clock,
        ),
        back="/staff/scribe-notes",
        ok=f"Scribe notes {decision}.",
    )
