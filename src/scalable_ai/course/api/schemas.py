"""Pydantic schemas at the edge of the JSON API: what a request may carry and what an answer
holds. Strings are bounded and free of NUL characters, ids are positive 32-bit integers and
times carry a time zone within the course's era, so bad input is a 4xx, never a 500."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

Id = Annotated[int, Field(ge=1, le=2_147_483_647)]
Text = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")]
ShortText = Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00]*$")]
Points = Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)]


def _course_era(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("give a time zone, e.g. 2026-02-10T23:59:00-08:00")
    if not 2000 <= value.year <= 2100:
        raise ValueError("must be between the years 2000 and 2100")
    return value


def _course_era_day(value: date) -> date:
    if not 2000 <= value.year <= 2100:
        raise ValueError("must be between the years 2000 and 2100")
    return value


Instant = Annotated[datetime, AfterValidator(_course_era)]
Day = Annotated[date, AfterValidator(_course_era_day)]


class Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class ErrorBody(BaseModel):
    message: str
    field: str | None = None


class ErrorOut(BaseModel):
    """Every refusal: ``{"error": {"message": ..., "field": ...}}``."""

    error: ErrorBody


# --- people and credentials ---------------------------------------------------------------


class PersonOut(Out):
    id: int
    name: str
    email: str
    sid: str | None
    role: str
    staff_title: str | None
    active: bool


class PersonIn(BaseModel):
    name: ShortText
    email: ShortText
    role: Literal["student", "staff"] = "student"
    sid: ShortText | None = None
    staff_title: ShortText | None = None


class PersonPatch(BaseModel):
    name: ShortText | None = None
    email: ShortText | None = None
    sid: ShortText | None = None
    staff_title: ShortText | None = None
    active: bool | None = None


class SshKeyIn(BaseModel):
    public_key: Text


class SshKeyOut(Out):
    id: int
    person_id: int
    public_key: str
    fingerprint: str
    comment: str | None
    created_at: datetime


class ApiTokenIn(BaseModel):
    name: ShortText


class ApiTokenOut(Out):
    id: int
    person_id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewApiTokenOut(BaseModel):
    """The token itself is shown once: keep it somewhere safe."""

    token: str
    details: ApiTokenOut


# --- the course ---------------------------------------------------------------------------


class ClockOut(BaseModel):
    now: datetime
    pinned: bool


class CourseOut(Out):
    code: str
    title: str
    term: str
    timezone: str
    settings: dict[str, Any]


class AssignmentOut(Out):
    key: str
    title: str
    released_on: date
    due_on: date
    due_at: datetime


class MilestoneOut(Out):
    key: str
    title: str
    kind: str
    day: date
    last_day: date | None
    notes: str
    submit_via: str


class LectureOut(Out):
    key: str
    number: int
    held_on: date
    title: str
    part: int
    guest: bool
    guest_note: str
    sequence: int


class LectureMoveIn(BaseModel):
    day: Day


class LectureRetitleIn(BaseModel):
    title: ShortText


class LectureSwapIn(BaseModel):
    first: ShortText
    second: ShortText


# --- groups, nodes, reservations ----------------------------------------------------------


class NodeOut(Out):
    id: int
    name: str
    external_ip: str
    gpus: int


class NodePatch(BaseModel):
    external_ip: ShortText


class GroupOut(Out):
    id: int
    name: str
    node: NodeOut | None
    confirmed_at: datetime | None
    project_title: str | None
    members: list[PersonOut]


class GroupIn(BaseModel):
    name: ShortText


class GroupProposalIn(BaseModel):
    name: ShortText
    member_ids: list[Id] = Field(max_length=20)


class InvitationIn(BaseModel):
    person_id: Id


class InvitationOut(Out):
    id: int
    group_id: int
    person_id: int
    invited_by_id: int
    created_at: datetime
    answered_at: datetime | None
    accepted: bool | None


class InvitationAnswerIn(BaseModel):
    accept: bool


class MoveIn(BaseModel):
    group_id: Id | None


class ReservationIn(BaseModel):
    node_ids: list[Id] = Field(min_length=1, max_length=8)
    starts_at: Instant
    ends_at: Instant
    purpose: Text = ""


class ReservationNodeOut(Out):
    node_id: int
    node: NodeOut
    group_id: int
    group_name: str
    consented_at: datetime | None


class ReservationOut(Out):
    id: int
    starts_at: datetime
    ends_at: datetime
    purpose: str
    rendezvous_id: str
    requested_by_id: int | None
    created_at: datetime
    cancelled_at: datetime | None
    consented: bool
    nodes: list[ReservationNodeOut]


class AccessRuleOut(Out):
    node: str
    node_ip: str
    source_ip: str
    source_node: str
    until: datetime
    ufw: str
    iptables: str


class ReservationPlanOut(BaseModel):
    reservation: str
    hostfile: str
    torchrun_args: list[str]
    torchrun_command: str
    access_rules: list[AccessRuleOut]
