"""The community routes of the JSON API, mounted with the core API at ``/api``: the
questionnaire and group proposals, Q&A, announcements and infrastructure tickets, lecture-note
comments and scribe notes, attendance and participation, enhancements, research directions
and project deliverables.

Each route is one service use case in the caller's unit of work (see
:mod:`scalable_ai.course.api.context`); permission is checked by the service, so a student
cannot read another's private question, questionnaire answers or returned scribe feedback
here any more than on a page. The project routes are in :mod:`.api_project`.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Path, Response

from scalable_ai.course.api.context import SignedIn
from scalable_ai.course.api.schemas import Id
from scalable_ai.course.community.api_project import router as project_router
from scalable_ai.course.community.api_qa import router as qa_router
from scalable_ai.course.community.api_schemas import (
    AnnouncementIn,
    AnswersIn,
    AttendanceIn,
    AttendanceOut,
    CheckInIn,
    CheckInOpenIn,
    CheckInWindowOut,
    CommentIn,
    CommentOut,
    CreditIn,
    CreditOut,
    EndorseIn,
    EnrollmentIn,
    EnrollmentOut,
    FinalizedOut,
    GroupMadeOut,
    NodeTicketsOut,
    OptionCount,
    ParticipationOut,
    PostMadeOut,
    ProposalIn,
    ProposalOut,
    QuestionIn,
    QuestionnaireOut,
    QuestionOut,
    QuestionPostIn,
    QuestionSummaryOut,
    RemovedFromGroupOut,
    RespondentOut,
    ResponseOut,
    ReviewIn,
    ScribeNoteIn,
    ScribeNoteOut,
    ShortGroupOut,
    SummaryOut,
    ThreadAnswerIn,
    ThreadOut,
    TicketIn,
    TicketOut,
    TicketStatusIn,
)
from scalable_ai.course.community.questions import Question, QuestionKind
from scalable_ai.course.community.service import forum, notes, participation, qa_board
from scalable_ai.course.community.service import questionnaire as onboarding
from scalable_ai.course.upload_limits import UPLOAD_ROUTE_BYTES
from scalable_ai.errors import NotFound, UserError

router = APIRouter()
router.include_router(project_router)
router.include_router(qa_router)
PathId = Annotated[Id, Path()]
LectureKey = Annotated[str, Path(max_length=16)]
QuestionKey = Annotated[str, Path(max_length=48)]

# --- onboarding questionnaire -------------------------------------------------------------


def _question_out(q: Question) -> QuestionOut:
    return QuestionOut(
        key=q.key,
        prompt=q.prompt,
        kind=q.kind.value,
        options=list(q.options),
        required=q.required,
        measures_experience=q.measures_experience,
        flagged_options=list(q.flagged_options),
    )


@router.get(
    "/questionnaire",
    response_model=QuestionnaireOut,
    tags=["questionnaire"],
    summary="The onboarding questionnaire and its questions",
)
def show_questionnaire(call: SignedIn) -> object:
    row = onboarding.questionnaire(call.session)
    return QuestionnaireOut(
        released_at=row.released_at,
        finalized_at=row.finalized_at,
        questions=[_question_out(q) for q in onboarding.questions(call.session)],
    )


@router.put(
    "/questionnaire/questions/{key}",
    response_model=QuestionOut,
    tags=["questionnaire"],
    summary="Define or replace a question (staff)",
)
def define_question(call: SignedIn, key: QuestionKey, body: QuestionIn) -> object:
    row = onboarding.define_question(
        call.session,
        call.actor,
        Question(
            key,
            body.prompt,
            QuestionKind(body.kind),
            tuple(body.options),
            body.required,
            body.measures_experience,
            tuple(body.flagged_options),
        ),
        clock=call.clock,
    )
    return QuestionOut(
        key=row.key,
        prompt=row.prompt,
        kind=row.kind,
        options=row.options,
        required=row.required,
        measures_experience=row.measures_experience,
        flagged_options=row.flagged_options,
    )


@router.post(
    "/questionnaire/release",
    response_model=QuestionnaireOut,
    tags=["questionnaire"],
    summary="Release the questionnaire to students (staff)",
)
def release_questionnaire(call: SignedIn) -> object:
    onboarding.release(call.session, call.actor, clock=call.clock)
    return show_questionnaire(call)


@router.put(
    "/questionnaire/answers",
    response_model=ResponseOut,
    tags=["questionnaire"],
    summary="Answer the questionnaire (students, until enrollment is finalized)",
)
def answer_questionnaire(call: SignedIn, body: AnswersIn) -> object:
    return onboarding.submit_answers(call.session, call.actor, body.answers, clock=call.clock)


@router.get(
    "/people/{person_id}/questionnaire",
    response_model=ResponseOut | None,
    tags=["questionnaire"],
    summary="A student's answers (the student or staff)",
)
def answers_of(call: SignedIn, person_id: PathId) -> object:
    return onboarding.answers_of(call.session, call.actor, person_id)


@router.get(
    "/questionnaire/summary",
    response_model=SummaryOut,
    tags=["questionnaire"],
    summary="Tallies, respondents with flags, and who has not answered (staff)",
)
def questionnaire_summary(call: SignedIn) -> object:
    s = onboarding.staff_summary(call.session, call.actor)
    return SummaryOut(
        released_at=s.released_at,
        finalized_at=s.finalized_at,
        questions=[
            QuestionSummaryOut(
                key=q.question.key,
                answered=q.answered,
                texts=list(q.texts),
                option_counts=[OptionCount(option=o, count=c) for o, c in q.option_counts],
            )
            for q in s.questions
        ],
        respondents=[
            RespondentOut(
                person_id=r.person.id,
                name=r.person.name,
                email=r.person.email,
                experience=r.experience,
                teammates=r.teammates,
                flags=r.flags,
                enrolled=r.decision.enrolled if r.decision else None,
            )
            for r in s.respondents
        ],
        missing=[p.id for p in s.missing],
    )


@router.post(
    "/people/{person_id}/enrollment",
    response_model=EnrollmentOut,
    tags=["questionnaire"],
    summary="Decide a student's enrollment (staff)",
)
def decide_enrollment(call: SignedIn, person_id: PathId, body: EnrollmentIn) -> object:
    return onboarding.decide_enrollment(
        call.session,
        call.actor,
        person_id,
        enrolled=body.enrolled,
        note=body.note,
        clock=call.clock,
    )


@router.post(
    "/questionnaire/finalize",
    response_model=FinalizedOut,
    tags=["questionnaire"],
    summary="Finalize enrollment, close answers, take students not enrolled out of "
    "their groups (staff)",
)
def finalize(call: SignedIn) -> object:
    done = onboarding.finalize_enrollment(call.session, call.actor, clock=call.clock)
    shown = show_questionnaire(call)
    return FinalizedOut(
        **shown.model_dump(),
        removed_from_groups=[
            RemovedFromGroupOut(person_id=r.person.id, group_id=r.group.id, group_name=r.group.name)
            for r in done.removed
        ],
        short_groups=[
            ShortGroupOut(group_id=g.id, group_name=g.name, members=len(g.members))
            for g in done.short_groups
        ],
        warnings=done.warnings,
    )


@router.post(
    "/group-proposals",
    response_model=ProposalOut,
    status_code=201,
    tags=["questionnaire"],
    summary="Propose groups of 4–6 from the answers (staff)",
)
def propose_groups(call: SignedIn, body: ProposalIn) -> object:
    return onboarding.propose_groups(call.session, call.actor, seed=body.seed, clock=call.clock)


@router.get(
    "/group-proposals/{proposal_id}",
    response_model=ProposalOut,
    tags=["questionnaire"],
    summary="A group proposal (staff)",
)
def show_proposal(call: SignedIn, proposal_id: PathId) -> object:
    return onboarding.show_proposal(call.session, call.actor, proposal_id)


@router.post(
    "/group-proposals/{proposal_id}/confirm",
    response_model=list[GroupMadeOut],
    tags=["questionnaire"],
    summary="Make and confirm the proposed groups (staff)",
)
def confirm_proposal(call: SignedIn, proposal_id: PathId) -> object:
    return onboarding.confirm_proposal(call.session, call.actor, proposal_id, clock=call.clock)


# --- Q&A, announcements, tickets ------------------------------------------------------------


# GET /threads (the board: filters, search, pages) is in api_qa.


@router.post(
    "/threads",
    response_model=ThreadOut,
    status_code=201,
    tags=["q&a"],
    summary="Ask a question (private: staff only; anonymous: to classmates)",
)
def ask(call: SignedIn, body: QuestionPostIn) -> object:
    thread = forum.post_question(
        call.session,
        call.actor,
        category=body.category,
        title=body.title,
        body=body.body,
        anonymous=body.anonymous,
        private=body.private,
        lecture_key=body.lecture,
        clock=call.clock,
    )
    call.session.flush()
    return qa_board.thread_for(call.session, call.actor, thread)


@router.get(
    "/threads/{thread_id}",
    response_model=ThreadOut,
    tags=["q&a"],
    summary="A thread with its answers (deleted ones to staff only, marked), and whether "
    "you follow it and have read it",
)
def show_thread(call: SignedIn, thread_id: PathId) -> object:
    thread = forum.get_thread(call.session, call.actor, thread_id)
    return qa_board.thread_for(call.session, call.actor, thread)


@router.post(
    "/threads/{thread_id}/posts",
    response_model=PostMadeOut,
    status_code=201,
    tags=["q&a"],
    summary="Answer or follow up",
)
def answer(call: SignedIn, thread_id: PathId, body: ThreadAnswerIn) -> object:
    return forum.answer(
        call.session,
        call.actor,
        thread_id,
        body=body.body,
        anonymous=body.anonymous,
        clock=call.clock,
    )


@router.post(
    "/posts/{post_id}/endorse",
    response_model=PostMadeOut,
    tags=["q&a"],
    summary="Endorse an answer or take it back (staff)",
)
def endorse(call: SignedIn, post_id: PathId, body: EndorseIn) -> object:
    return forum.endorse(
        call.session, call.actor, post_id, endorsed=body.endorsed, clock=call.clock
    )


@router.get(
    "/announcements",
    response_model=list[ThreadOut],
    tags=["q&a"],
    summary="The newest announcements",
)
def announcements(call: SignedIn) -> object:
    return [
        forum.thread_view(call.actor, t, with_posts=False)
        for t in forum.announcements(call.session, call.actor, limit=20)
    ]


@router.post(
    "/announcements",
    response_model=ThreadOut,
    status_code=201,
    tags=["q&a"],
    summary="Announce to the class (staff)",
)
def announce(call: SignedIn, body: AnnouncementIn) -> object:
    thread = forum.post_announcement(
        call.session,
        call.actor,
        title=body.title,
        body=body.body,
        category=body.category,
        clock=call.clock,
    )
    call.session.flush()
    return forum.thread_view(call.actor, thread)


@router.post(
    "/tickets",
    response_model=ThreadOut,
    status_code=201,
    tags=["infrastructure"],
    summary="File an infrastructure ticket (node, time, job IDs, logs, repro)",
)
def file_ticket(call: SignedIn, body: TicketIn) -> object:
    thread = forum.file_ticket(
        call.session,
        call.actor,
        title=body.title,
        node_id=body.node_id,
        occurred_at=body.occurred_at,
        job_ids=body.job_ids,
        logs=body.logs,
        repro=body.repro,
        body=body.body,
        clock=call.clock,
    )
    return forum.thread_view(call.actor, thread)


@router.post(
    "/tickets/{thread_id}/status",
    response_model=TicketOut,
    tags=["infrastructure"],
    summary="Acknowledge, resolve or reopen a ticket (staff)",
)
def ticket_status(call: SignedIn, thread_id: PathId, body: TicketStatusIn) -> object:
    return forum.set_ticket_status(
        call.session, call.actor, thread_id, body.status, clock=call.clock
    )


@router.get(
    "/tickets/by-node",
    response_model=list[NodeTicketsOut],
    tags=["infrastructure"],
    summary="Open tickets per node (the node board)",
)
def tickets_by_node(call: SignedIn) -> object:
    board = forum.open_tickets_by_node(call.session, call.actor)
    return [
        NodeTicketsOut(node=name, open_tickets=[t.id for t in threads])
        for name, threads in board.items()
    ]


# --- lecture notes and scribe notes -----------------------------------------------------------


@router.get(
    "/lectures/{key}/comments",
    response_model=list[CommentOut],
    tags=["notes"],
    summary="Comments on a lecture's notes and slides",
)
def list_comments(call: SignedIn, key: LectureKey) -> object:
    return notes.note_comments(call.session, call.actor, key)


@router.post(
    "/lectures/{key}/comments",
    response_model=CommentOut,
    status_code=201,
    tags=["notes"],
    summary="Comment on a lecture's notes or slides",
)
def comment(call: SignedIn, key: LectureKey, body: CommentIn) -> object:
    return notes.comment_on_notes(call.session, call.actor, key, body=body.body, clock=call.clock)


@router.post(
    "/lectures/{key}/scribe-notes",
    response_model=ScribeNoteOut,
    status_code=201,
    tags=["notes"],
    summary="Submit scribe notes (Markdown, or a PDF in base64)",
    max_body_size=UPLOAD_ROUTE_BYTES["scribe_notes_json"],
)
def submit_scribe_notes(call: SignedIn, key: LectureKey, body: ScribeNoteIn) -> object:
    pdf = None
    if body.format == "pdf":
        try:
            pdf = base64.b64decode(body.pdf_base64, validate=True)
        except (binascii.Error, ValueError):
            raise UserError("pdf_base64 is not base64", field="pdf_base64") from None
    return notes.submit_scribe_note(
        call.session,
        call.actor,
        key,
        format=body.format,
        sources_statement=body.sources_statement,
        body=body.body,
        pdf=pdf,
        filename=body.filename,
        clock=call.clock,
    )


@router.get(
    "/lectures/{key}/scribe-notes",
    response_model=list[ScribeNoteOut],
    tags=["notes"],
    summary="The accepted scribe notes of a lecture",
)
def lecture_scribe_notes(call: SignedIn, key: LectureKey) -> object:
    return notes.accepted_notes(call.session, key)


@router.get(
    "/people/{person_id}/scribe-notes",
    response_model=list[ScribeNoteOut],
    tags=["notes"],
    summary="Every version a scribe handed in, with feedback",
)
def scribe_notes_of(call: SignedIn, person_id: PathId) -> object:
    return notes.scribe_notes_of(call.session, call.actor, person_id)


@router.get(
    "/scribe-notes/pending",
    response_model=list[ScribeNoteOut],
    tags=["notes"],
    summary="Scribe notes waiting for review (staff)",
)
def pending_scribe_notes(call: SignedIn) -> object:
    return notes.pending_scribe_notes(call.session, call.actor)


@router.get(
    "/scribe-notes/{note_id}",
    response_model=ScribeNoteOut,
    tags=["notes"],
    summary="One version of scribe notes",
)
def show_scribe_note(call: SignedIn, note_id: PathId) -> object:
    return notes.show_scribe_note(call.session, call.actor, note_id)


@router.get(
    "/scribe-notes/{note_id}/content",
    tags=["notes"],
    summary="The notes themselves: Markdown text or the PDF",
)
def scribe_note_content(call: SignedIn, note_id: PathId) -> Response:
    note = notes.show_scribe_note(call.session, call.actor, note_id)
    if note.format == "pdf":
        if note.pdf is None:
            raise NotFound("this version has no PDF", field="note")
        return Response(
            note.pdf,
            media_type="application/pdf",
            headers={"Content-Disposition": f'inline; filename="{note.lecture.key}-notes.pdf"'},
        )
    return Response(note.body, media_type="text/markdown; charset=utf-8")


@router.post(
    "/scribe-notes/{note_id}/review",
    response_model=ScribeNoteOut,
    tags=["notes"],
    summary="Accept scribe notes or return them with feedback (staff)",
)
def review_scribe_note(call: SignedIn, note_id: PathId, body: ReviewIn) -> object:
    return notes.review_scribe_note(
        call.session,
        call.actor,
        note_id,
        decision=body.decision,
        feedback=body.feedback,
        clock=call.clock,
    )


# --- attendance and participation -----------------------------------------------------------


@router.post(
    "/lectures/{key}/check-in/open",
    response_model=CheckInWindowOut,
    tags=["participation"],
    summary="Open check-in and get the code (staff)",
)
def open_check_in(call: SignedIn, key: LectureKey, body: CheckInOpenIn) -> object:
    return participation.open_check_in(
        call.session,
        call.actor,
        key,
        clock=call.clock,
        opens_at=body.opens_at,
        closes_at=body.closes_at,
    )


@router.post(
    "/lectures/{key}/check-in",
    response_model=AttendanceOut,
    tags=["participation"],
    summary="Check in to a lecture with its code (students)",
)
def check_in(call: SignedIn, key: LectureKey, body: CheckInIn) -> object:
    return participation.check_in(call.session, call.actor, key, code=body.code, clock=call.clock)


@router.post(
    "/lectures/{key}/attendance",
    response_model=list[AttendanceOut],
    tags=["participation"],
    summary="Mark students present (staff)",
)
def mark_attendance(call: SignedIn, key: LectureKey, body: AttendanceIn) -> object:
    return participation.mark_attendance(
        call.session, call.actor, key, body.person_ids, clock=call.clock
    )


@router.get(
    "/lectures/{key}/attendance",
    response_model=list[AttendanceOut],
    tags=["participation"],
    summary="Who attended a lecture (staff)",
)
def attendance(call: SignedIn, key: LectureKey) -> object:
    return participation.attendance_of(call.session, call.actor, key)


@router.post(
    "/people/{person_id}/participation-credits",
    response_model=CreditOut,
    status_code=201,
    tags=["participation"],
    summary="Credit an in-class contribution (staff)",
)
def credit(call: SignedIn, person_id: PathId, body: CreditIn) -> object:
    return participation.credit(
        call.session, call.actor, person_id, kind=body.kind, note=body.note, clock=call.clock
    )


def _participation_out(s) -> ParticipationOut:
    return ParticipationOut(**{f: getattr(s, f) for f in ParticipationOut.model_fields})


@router.get(
    "/people/{person_id}/participation",
    response_model=ParticipationOut,
    tags=["participation"],
    summary="A student's attendance and participation",
)
def participation_of(call: SignedIn, person_id: PathId) -> object:
    return _participation_out(
        participation.summary(call.session, call.actor, person_id, clock=call.clock)
    )


@router.get(
    "/participation",
    response_model=list[ParticipationOut],
    tags=["participation"],
    summary="Every student's participation (staff)",
)
def class_participation(call: SignedIn) -> object:
    return [
        _participation_out(s)
        for _, s in participation.class_summary(call.session, call.actor, clock=call.clock)
    ]


@router.post(
    "/participation/grade-book",
    response_model=dict[str, int],
    tags=["participation"],
    summary="Write every student's participation score into the grade book (staff)",
)
def participation_to_grade_book(call: SignedIn) -> object:
    return {
        "recorded": participation.record_in_grade_book(call.session, call.actor, clock=call.clock)
    }
