"""Lecture notes: constructive comments on each lecture's notes and slides, and scribe notes.

Syllabus: participation includes "providing constructive comments on lecture notes and
slides"; "Each student is expected to scribe 2 lectures ... Scribing may use LLM assistance
(e.g., for drafting), but the final scribe must be accurate, edited, and clearly written. If
you use external sources or AI tools, you must cite them clearly."

A scribe submits Markdown or a PDF for a lecture they are assigned (``ScribeAssignment``,
made by the core scribing rules), with the statement of sources and AI assistance; staff
accept it (the scribing assignment becomes satisfactory) or return it with feedback, which
only the scribe and staff can read. Accepted notes are shown to the whole class.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock
from scalable_ai.course.community.forum_rules import check_body
from scalable_ai.course.community.project_rules import Review, check_statement, decide
from scalable_ai.course.community.service.project import record_review
from scalable_ai.course.service.actors import (
    Actor,
    acting_person,
    require_self_or_staff,
    require_staff,
)
from scalable_ai.course.service.course import lecture_by_key, row_by_id
from scalable_ai.course.tables import ScribeAssignment
from scalable_ai.course.tables.community import NoteComment, ScribeNote
from scalable_ai.errors import Conflict, Forbidden, NotFound, UserError

PDF_MAX_BYTES = 10 * 1024 * 1024
FORMATS = ("markdown", "pdf")


def _snapshot(note: ScribeNote | None) -> dict | None:
    """The audit snapshot of a note, with the PDF's size in place of its bytes."""
    data = audit.snapshot(note)
    if note is not None and data is not None and data.get("pdf") is not None:
        data["pdf"] = f"{len(note.pdf or b'')} bytes"
    return data


def comment_on_notes(
    session: Session, actor: Actor, lecture_key: str, *, body: str, clock: Clock
) -> NoteComment:
    """A comment on a lecture's notes or slides (counts toward participation)."""
    me = acting_person(session, actor)
    lecture = lecture_by_key(session, lecture_key)
    row = NoteComment(
        lecture_id=lecture.id, author_id=me.id, body=check_body(body), created_at=clock.now()
    )
    session.add(row)
    audit.record(session, actor, "notes.comment", row, before=None, at=clock.now())
    return row


def note_comments(session: Session, actor: Actor, lecture_key: str) -> Sequence[NoteComment]:
    lecture = lecture_by_key(session, lecture_key)
    return session.scalars(
        select(NoteComment).where(NoteComment.lecture_id == lecture.id).order_by(NoteComment.id)
    ).all()


def scribe_assignment(session: Session, lecture_id: int, person_id: int) -> ScribeAssignment | None:
    return session.scalar(
        select(ScribeAssignment).where(
            ScribeAssignment.lecture_id == lecture_id, ScribeAssignment.person_id == person_id
        )
    )


def my_scribe_lectures(
    session: Session, actor: Actor, person_id: int
) -> Sequence[ScribeAssignment]:
    require_self_or_staff(actor, person_id, "see scribe assignments")
    return session.scalars(
        select(ScribeAssignment)
        .where(ScribeAssignment.person_id == person_id)
        .order_by(ScribeAssignment.lecture_id)
    ).all()


def submit_scribe_note(
    session: Session,
    actor: Actor,
    lecture_key: str,
    *,
    format: str,
    sources_statement: str,
    body: str = "",
    pdf: bytes | None = None,
    filename: str = "",
    clock: Clock,
) -> ScribeNote:
    """The scribe hands in notes for their assigned lecture: a new version each time, until
    staff accept one."""
    me = acting_person(session, actor)
    lecture = lecture_by_key(session, lecture_key)
    assignment = scribe_assignment(session, lecture.id, me.id)
    if assignment is None:
        raise Forbidden(
            f"you are not a scribe of {lecture.key}; scribe assignments are posted by staff"
        )
    if format not in FORMATS:
        raise UserError("format must be markdown or pdf", field="format")
    statement = check_statement(sources_statement)
    if format == "markdown":
        body, pdf, filename = check_body(body), None, ""
    else:
        if not pdf:
            raise UserError("attach the PDF", field="pdf")
        if not pdf.startswith(b"%PDF-"):
            raise UserError("that file is not a PDF", field="pdf")
        if len(pdf) > PDF_MAX_BYTES:
            raise UserError("a PDF is at most 10 MiB", field="pdf")
        body, filename = "", (filename or f"{lecture.key}.pdf")[-200:]
    versions = session.scalars(
        select(ScribeNote).where(ScribeNote.lecture_id == lecture.id, ScribeNote.person_id == me.id)
    ).all()
    if any(v.status == Review.ACCEPTED for v in versions):
        raise Conflict("your notes for this lecture are already accepted", field="lecture")
    version = (
        session.scalar(
            select(func.max(ScribeNote.version)).where(
                ScribeNote.lecture_id == lecture.id, ScribeNote.person_id == me.id
            )
        )
        or 0
    ) + 1
    note = ScribeNote(
        lecture_id=lecture.id,
        person_id=me.id,
        version=version,
        format=format,
        body=body,
        pdf=pdf,
        filename=filename,
        sources_statement=statement,
        submitted_at=clock.now(),
        status=Review.PENDING.value,
    )
    session.add(note)
    before = audit.snapshot(assignment)
    assignment.submitted_at = clock.now()
    session.flush()
    audit.record(
        session, actor, "scribe.submit", note, before=None, after=_snapshot(note), at=clock.now()
    )
    audit.record(
        session, actor, "scribe.assignment.submitted", assignment, before=before, at=clock.now()
    )
    return note


def review_scribe_note(
    session: Session, actor: Actor, note_id: int, *, decision: str, feedback: str = "", clock: Clock
) -> ScribeNote:
    """Staff accept the notes (scribing satisfactory for that lecture) or return them with
    feedback for a new version."""
    require_staff(actor, "review scribe notes")
    note = row_by_id(session, ScribeNote, note_id, what="scribe notes", field="note")
    outcome = decide(note.status, decision, feedback)
    record_review(
        session,
        actor,
        note,
        outcome,
        feedback,
        action="scribe.review",
        clock=clock,
        snapshot=_snapshot,
    )
    assignment = scribe_assignment(session, note.lecture_id, note.person_id)
    if assignment is not None and outcome is Review.ACCEPTED:
        before = audit.snapshot(assignment)
        assignment.satisfactory = True
        audit.record(
            session,
            actor,
            "scribe.assignment.satisfactory",
            assignment,
            before=before,
            at=clock.now(),
        )
    return note


def show_scribe_note(session: Session, actor: Actor, note_id: int) -> ScribeNote:
    """Accepted notes are course notes anyone signed in can read; a pending or returned
    version (and its feedback) only the scribe and staff."""
    note = session.get(ScribeNote, note_id)
    if note is None or (
        note.status != Review.ACCEPTED and not actor.is_staff and actor.person_id != note.person_id
    ):
        raise NotFound(f"no scribe notes with id {note_id}", field="note")
    return note


def scribe_notes_of(session: Session, actor: Actor, person_id: int) -> Sequence[ScribeNote]:
    """Every version a scribe handed in, with staff feedback (the scribe and staff only)."""
    require_self_or_staff(actor, person_id, "see scribe notes and feedback")
    return session.scalars(
        select(ScribeNote)
        .where(ScribeNote.person_id == person_id)
        .order_by(ScribeNote.lecture_id, ScribeNote.version)
    ).all()


def accepted_notes(session: Session, lecture_key: str) -> Sequence[ScribeNote]:
    lecture = lecture_by_key(session, lecture_key)
    return session.scalars(
        select(ScribeNote)
        .where(ScribeNote.lecture_id == lecture.id, ScribeNote.status == Review.ACCEPTED.value)
        .order_by(ScribeNote.person_id)
    ).all()


def pending_scribe_notes(session: Session, actor: Actor) -> Sequence[ScribeNote]:
    require_staff(actor, "review scribe notes")
    return session.scalars(
        select(ScribeNote)
        .where(ScribeNote.status == Review.PENDING.value)
        .order_by(ScribeNote.submitted_at)
    ).all()
