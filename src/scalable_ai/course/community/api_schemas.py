"""Pydantic schemas of the community routes (questionnaire, Q&A, tickets, notes, attendance,
project). Bounded strings and positive ids, as in :mod:`scalable_ai.course.api.schemas`, so
bad input is a 4xx and never a 500."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from scalable_ai.course.api.schemas import Day, Id, Instant, Out, ShortText
from scalable_ai.course.links import WebLink

Body = Annotated[str, StringConstraints(max_length=20_000, pattern=r"^[^\x00]*$")]
Category = Literal["general", "lecture", "A1", "A2", "A3", "A4", "A5", "project", "infrastructure"]
Decision = Literal["accepted", "returned"]


class QuestionIn(BaseModel):
    prompt: Annotated[str, StringConstraints(max_length=1000, pattern=r"^[^\x00]*$")]
    kind: Literal["text", "choice", "teammates"]
    options: list[ShortText] = Field(default_factory=list, max_length=20)
    required: bool = True
    measures_experience: bool = False
    flagged_options: list[ShortText] = Field(default_factory=list, max_length=20)


class QuestionOut(BaseModel):
    key: str
    prompt: str
    kind: str
    options: list[str]
    required: bool
    measures_experience: bool
    flagged_options: list[str]


class QuestionnaireOut(BaseModel):
    released_at: datetime | None
    finalized_at: datetime | None
    questions: list[QuestionOut]


class RemovedFromGroupOut(BaseModel):
    person_id: int
    group_id: int
    group_name: str


class ShortGroupOut(BaseModel):
    group_id: int
    group_name: str
    members: int


class FinalizedOut(QuestionnaireOut):
    """The questionnaire, closed, with who finalizing took out of which group and the groups
    left under the minimum size (``warnings``: for staff to act on; none is dissolved)."""

    removed_from_groups: list[RemovedFromGroupOut]
    short_groups: list[ShortGroupOut]
    warnings: list[str]


class AnswersIn(BaseModel):
    answers: dict[ShortText, Annotated[str, StringConstraints(max_length=4000)] | list[ShortText]]


class ResponseOut(Out):
    person_id: int
    answers: dict[str, Any]
    submitted_at: datetime
    updated_at: datetime


class EnrollmentIn(BaseModel):
    enrolled: bool
    note: ShortText = ""


class EnrollmentOut(Out):
    person_id: int
    enrolled: bool
    note: str
    decided_at: datetime


class OptionCount(BaseModel):
    option: str
    count: int


class QuestionSummaryOut(BaseModel):
    key: str
    answered: int
    option_counts: list[OptionCount]
    texts: list[str]


class RespondentOut(BaseModel):
    person_id: int
    name: str
    email: str
    experience: float
    teammates: list[str]
    flags: list[str]
    enrolled: bool | None


class SummaryOut(BaseModel):
    released_at: datetime | None
    finalized_at: datetime | None
    questions: list[QuestionSummaryOut]
    respondents: list[RespondentOut]
    missing: list[int]


class ProposalIn(BaseModel):
    seed: Annotated[int, Field(ge=0, le=2_147_483_647)] = 0


class ProposalOut(Out):
    id: int
    seed: int
    groups: list[list[int]]
    honoured_requests: int
    requests_made: int
    created_at: datetime
    confirmed_at: datetime | None


class GroupMadeOut(Out):
    id: int
    name: str
    node_id: int | None


# --- Q&A --------------------------------------------------------------------------------------


class QuestionPostIn(BaseModel):
    category: Category
    title: ShortText
    body: Body
    anonymous: bool = False
    private: bool = False
    lecture: Annotated[str, StringConstraints(max_length=16)] | None = None


class AnnouncementIn(BaseModel):
    title: ShortText
    body: Body
    category: Category = "project"


class ThreadAnswerIn(BaseModel):
    body: Body
    anonymous: bool = False


class EndorseIn(BaseModel):
    endorsed: bool = True


class TicketIn(BaseModel):
    title: ShortText
    node_id: Id
    occurred_at: Instant
    job_ids: Body
    logs: Body
    repro: Body
    body: Body = ""


class TicketStatusIn(BaseModel):
    status: Literal["open", "acknowledged", "resolved"]


class PostOut(BaseModel):
    id: int
    author: str
    body_html: str
    created_at: datetime
    endorsed: bool
    by_staff: bool
    edited: bool = False
    deleted: bool = False
    mine: bool = False


class ThreadOut(BaseModel):
    id: int
    category: str
    title: str
    author: str
    body_html: str
    excerpt: str
    created_at: datetime
    private: bool
    anonymous: bool
    announcement: bool
    answered_by_staff: bool
    endorsed_answer: bool
    ticket: dict[str, Any] | None
    posts: list[PostOut]
    resolved: bool = False
    edited: bool = False
    deleted: bool = False
    mine: bool = False
    answers: int = 0
    unread: bool = False
    following: bool = False


class PostMadeOut(Out):
    id: int
    thread_id: int
    created_at: datetime
    endorsed_at: datetime | None


class TicketOut(Out):
    id: int
    thread_id: int
    node_id: int
    status: str
    status_changed_at: datetime


class NodeTicketsOut(BaseModel):
    node: str
    open_tickets: list[int]


# --- lecture notes and participation ------------------------------------------------------


class CommentIn(BaseModel):
    body: Body


class CommentOut(Out):
    id: int
    lecture_id: int
    author_id: int | None
    body: str
    created_at: datetime


class ScribeNoteIn(BaseModel):
    format: Literal["markdown", "pdf"]
    sources_statement: Annotated[str, StringConstraints(max_length=4000)]
    body: Body = ""
    pdf_base64: Annotated[str, StringConstraints(max_length=14_000_000)] = ""
    filename: ShortText = ""


class ScribeNoteOut(Out):
    id: int
    lecture_id: int
    person_id: int
    version: int
    format: str
    filename: str
    sources_statement: str
    submitted_at: datetime
    status: str
    feedback: str
    reviewed_at: datetime | None


class ReviewIn(BaseModel):
    decision: Decision
    feedback: Body = ""


class CheckInOpenIn(BaseModel):
    opens_at: Instant | None = None
    closes_at: Instant | None = None


class CheckInWindowOut(Out):
    lecture_id: int
    code: str
    opens_at: datetime
    closes_at: datetime


class CheckInIn(BaseModel):
    code: Annotated[str, StringConstraints(max_length=32)]


class AttendanceIn(BaseModel):
    person_ids: list[Id] = Field(max_length=500)


class AttendanceOut(Out):
    id: int
    lecture_id: int
    person_id: int
    source: str
    marked_at: datetime


class CreditIn(BaseModel):
    kind: Literal["discussion", "check-in", "notes-improvement", "other"]
    note: ShortText = ""


class CreditOut(Out):
    id: int
    person_id: int
    kind: str
    note: str
    credited_at: datetime


class ParticipationOut(BaseModel):
    person_id: int
    lectures_held: int
    lectures_attended: int
    questions: int
    answers: int
    note_comments: int
    staff_credits: int
    score: float
    note: str


# --- project ------------------------------------------------------------------------------


class EnhancementIn(BaseModel):
    assignment: Annotated[str, StringConstraints(max_length=16)]
    kind: Literal["added_questions", "harder_programmatic"]
    title: ShortText
    description: Body


class EnhancementReviewIn(ReviewIn):
    score: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)] | None = None


class EnhancementOut(Out):
    id: int
    group_id: int
    assignment_id: int
    kind: str
    title: str
    description: str
    status: str
    score: float | None
    feedback: str
    proposed_at: datetime


class EnhancementsScoreOut(BaseModel):
    score: float
    note: str


class DirectionIn(BaseModel):
    title: ShortText
    summary: Body
    released_on: Day | None = None


class DirectionOut(Out):
    id: int
    title: str
    summary: str
    released_on: date


class ChoiceIn(BaseModel):
    direction_id: Id | None = None
    own_title: ShortText = ""
    own_summary: Body = ""


class ChoiceOut(Out):
    id: int
    group_id: int
    direction_id: int | None
    own_title: str
    own_summary: str
    status: str
    feedback: str
    chosen_at: datetime


class DeliverableIn(BaseModel):
    kind: Literal[
        "hypothesis", "proposal", "midterm_report", "draft_report", "final", "poster", "impact"
    ]
    link: WebLink
    integrity_statement: Annotated[str, StringConstraints(max_length=4000)]
    code_link: WebLink | Literal[""] = ""
    summary: Annotated[str, StringConstraints(max_length=4000)] = ""
    evidence_kind: Literal["merged_pr", "benchmark", "report", "preprint"] | None = None


class DeliverableOut(Out):
    id: int
    group_id: int
    kind: str
    version: int
    link: str
    code_link: str
    evidence_kind: str | None
    summary: str
    integrity_statement: str
    submitted_at: datetime
    deadline: datetime
    late: bool
    status: str
    feedback: str
