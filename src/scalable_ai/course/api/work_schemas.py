"""Schemas for coursework: submissions, slack days, exceptions, scores and grades, scribing,
peer review, sign-up slots and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from scalable_ai.course.api.schemas import Id, Instant, Out, Points, ShortText, Text
from scalable_ai.course.links import WebLink

# --- submissions, slack days, exceptions, scores ------------------------------------------


class IntegrityIn(BaseModel):
    external_code: Text
    sources: Text
    ai_assistance: Text


class SubmissionIn(BaseModel):
    assignment: ShortText | None = None
    milestone: ShortText | None = None
    integrity: IntegrityIn
    confirm_slack_day: bool = False
    link: WebLink | None = None


class SubmissionOut(Out):
    id: int
    assignment_id: int | None
    milestone_id: int | None
    group_id: int | None
    person_id: int
    submitted_at: datetime
    deadline_applied: datetime
    deadline_reason: str
    slack_day_used: bool
    integrity: dict[str, Any]
    link: str | None
    source: str


class SlackSpendIn(BaseModel):
    assignment: ShortText


class ReverseIn(BaseModel):
    reason: Text = ""


class SlackDayOut(Out):
    id: int
    person_id: int
    assignment_id: int
    group_id: int | None
    spent_at: datetime
    revoked_at: datetime | None
    reason: str


class SlackBalanceOut(Out):
    person_id: int
    total: int
    used: int
    left: int
    notes: list[str]
    entries: list[SlackDayOut]


class AssignmentStatusOut(BaseModel):
    """The deadline that applies to the student now, and their group's latest submission."""

    assignment: str
    title: str
    due: datetime
    deadline: datetime
    slack_day_applied: bool
    exception_reason: str | None
    submitted_at: datetime | None


class ExceptionIn(BaseModel):
    person_id: Id | None = None
    group_id: Id | None = None
    assignment: ShortText | None = None
    milestone: ShortText | None = None
    new_deadline: Instant
    reason: Text
    # an exception earlier than the regular deadline must say so (it shortens the deadline)
    shorten: bool = False


class ExceptionOut(Out):
    id: int
    person_id: int | None
    group_id: int | None
    assignment_id: int | None
    milestone_id: int | None
    new_deadline: datetime
    reason: str
    approved_at: datetime
    revoked_at: datetime | None


class ScoreIn(BaseModel):
    person_id: Id
    item: ShortText
    points: Points
    max_points: Points = 100.0
    comment: Text = ""
    under_exception: bool = False


class GroupScoreIn(BaseModel):
    item: ShortText
    points: Points
    max_points: Points = 100.0
    comment: Text = ""


class ScoreOut(Out):
    id: int
    person_id: int
    item: str
    points: float
    max_points: float
    comment: str
    source: str
    graded_at: datetime


class GradeComponentOut(Out):
    key: str
    title: str
    weight: float
    score: float | None
    points: float
    satisfactory: bool | None
    threshold: float | None


class AssignmentResultOut(Out):
    assignment: str
    core: float | None
    enhancement: float | None
    satisfactory: bool | None
    threshold: float | None


class NoteOut(Out):
    rule: str
    message: str


class GradeOut(BaseModel):
    person_id: int
    name: str
    total: float
    letter: str
    passed: bool
    components: list[GradeComponentOut]
    assignments: list[AssignmentResultOut]
    notes: list[NoteOut]
    # The running grade (policy.standing): from graded work only, pending is never 0.
    standing: str = ""
    standing_reasons: list[str] = []
    projected: float | None = None
    projected_letter: str = ""
    complete: bool = False


# --- scribing, peer review, slots, audit --------------------------------------------------


class DealIn(BaseModel):
    seed: Annotated[int, Field(ge=0, le=2_147_483_647)] = 0
    replace: bool = False


class ScribeOut(Out):
    id: int
    lecture_id: int
    lecture_key: str
    person_id: int
    submitted_at: datetime | None
    satisfactory: bool | None


class ScribeMoveIn(BaseModel):
    lecture: ShortText  # the lecture's key, "L9"


class ScribeMoveOut(BaseModel):
    """The moved scribe and, when the lecture it left has no scribe now, that lecture and a
    warning (the move is made all the same)."""

    scribe: ScribeOut
    lecture: str
    left_without_scribe: str | None
    warning: str | None


class ScribeMarkIn(BaseModel):
    satisfactory: bool


class PeerReviewOut(Out):
    id: int
    reviewer_group_id: int
    reviewed_group_id: int
    due_at: datetime
    submitted_at: datetime | None


class SlotIn(BaseModel):
    kind: Literal["checkoff", "midterm_checkin", "presentation"]
    starts_at: Instant
    ends_at: Instant
    capacity: Annotated[int, Field(ge=1, le=100)] = 1
    assignment: ShortText | None = None
    session: ShortText | None = None
    location: ShortText = ""


class SlotOut(Out):
    id: int
    kind: str
    assignment_id: int | None
    starts_at: datetime
    ends_at: datetime
    capacity: int
    session: str | None
    location: str


class SignupIn(BaseModel):
    group_id: Id | None = None


class SignupOut(Out):
    id: int
    slot_id: int
    group_id: int
    created_at: datetime


class AuditOut(Out):
    id: int
    at: datetime
    actor_id: int | None
    actor_label: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
