"""Submissions, slack days, exceptions, scores, scribing, peer review and sign-up slots."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from scalable_ai.course.api.context import SignedIn
from scalable_ai.course.api.routes_people import grade_out
from scalable_ai.course.api.schemas import (
    Id,
)
from scalable_ai.course.api.work_schemas import (
    DealIn,
    ExceptionIn,
    ExceptionOut,
    GradeOut,
    GroupScoreIn,
    PeerReviewOut,
    ReverseIn,
    ScoreIn,
    ScoreOut,
    ScribeMarkIn,
    ScribeMoveIn,
    ScribeMoveOut,
    ScribeOut,
    SignupIn,
    SignupOut,
    SlackDayOut,
    SlackSpendIn,
    SlotIn,
    SlotOut,
    SubmissionIn,
    SubmissionOut,
)
from scalable_ai.course.service import activities, grades, scribe_moves, slack, submissions

router = APIRouter()
PathId = Annotated[Id, Path()]


@router.get(
    "/submissions",
    response_model=list[SubmissionOut],
    tags=["submissions"],
    summary="Submissions (staff: all; students: their group's)",
)
def list_submissions(
    call: SignedIn,
    group_id: Annotated[Id | None, Query()] = None,
    assignment: Annotated[str | None, Query(max_length=16)] = None,
) -> object:
    return submissions.list_submissions(
        call.session, call.actor, group_id=group_id, assignment=assignment
    )


@router.post(
    "/submissions",
    response_model=SubmissionOut,
    status_code=201,
    tags=["submissions"],
    summary="Submit for your group now (late within 24 h: confirm_slack_day)",
)
def submit(call: SignedIn, body: SubmissionIn) -> object:
    return submissions.submit(
        call.session,
        call.actor,
        assignment=body.assignment,
        milestone=body.milestone,
        integrity=body.integrity.model_dump(),
        confirm_slack_day=body.confirm_slack_day,
        link=body.link,
        clock=call.clock,
    )


@router.post(
    "/groups/{group_id}/slack-days",
    response_model=list[SlackDayOut],
    status_code=201,
    tags=["slack days"],
    summary="Apply a slack day to an assignment (charged to every member)",
)
def spend_slack_day(call: SignedIn, group_id: PathId, body: SlackSpendIn) -> object:
    return slack.spend_slack_day(
        call.session, call.actor, group_id=group_id, assignment=body.assignment, clock=call.clock
    )


@router.post(
    "/slack-days/{use_id}/reverse",
    response_model=list[SlackDayOut],
    tags=["slack days"],
    summary="Reverse a slack day (staff)",
)
def reverse_slack_day(call: SignedIn, use_id: PathId, body: ReverseIn) -> object:
    return slack.reverse_slack_day(
        call.session, call.actor, use_id, reason=body.reason, clock=call.clock
    )


@router.get(
    "/slack-days",
    response_model=list[SlackDayOut],
    tags=["slack days"],
    summary="The whole ledger (staff)",
)
def slack_ledger(call: SignedIn) -> object:
    return slack.slack_ledger(call.session, call.actor)


@router.get("/exceptions", response_model=list[ExceptionOut], tags=["exceptions"])
def list_exceptions(call: SignedIn) -> object:
    return slack.list_exceptions(call.session, call.actor)


@router.post(
    "/exceptions",
    response_model=ExceptionOut,
    status_code=201,
    tags=["exceptions"],
    summary="Approve an exception (staff)",
)
def grant_exception(call: SignedIn, body: ExceptionIn) -> object:
    return slack.grant_exception(call.session, call.actor, clock=call.clock, **body.model_dump())


@router.post("/exceptions/{exception_id}/revoke", response_model=ExceptionOut, tags=["exceptions"])
def revoke_exception(call: SignedIn, exception_id: PathId) -> object:
    return slack.revoke_exception(call.session, call.actor, exception_id, clock=call.clock)


@router.post(
    "/scores", response_model=ScoreOut, tags=["grades"], summary="Record a student's score (staff)"
)
def record_score(call: SignedIn, body: ScoreIn) -> object:
    return grades.record_score(call.session, call.actor, clock=call.clock, **body.model_dump())


@router.post(
    "/groups/{group_id}/scores",
    response_model=list[ScoreOut],
    tags=["grades"],
    summary="Record a score for every member of a group (staff)",
)
def record_group_score(call: SignedIn, group_id: PathId, body: GroupScoreIn) -> object:
    return grades.record_group_score(
        call.session, call.actor, group_id=group_id, clock=call.clock, **body.model_dump()
    )


@router.get(
    "/gradebook",
    response_model=list[GradeOut],
    tags=["grades"],
    summary="Every student's grade (staff)",
)
def gradebook(call: SignedIn) -> object:
    return [grade_out(g) for g in grades.gradebook(call.session, call.actor, clock=call.clock)]


@router.get("/scribes", response_model=list[ScribeOut], tags=["scribing"])
def list_scribes(call: SignedIn) -> object:
    return activities.list_scribes(call.session, call.actor)


@router.post(
    "/scribes/assign",
    response_model=list[ScribeOut],
    tags=["scribing"],
    summary="Deal 2 lectures to every student (staff)",
)
def assign_scribes(call: SignedIn, body: DealIn) -> object:
    return activities.assign_scribes(
        call.session, call.actor, seed=body.seed, replace=body.replace, clock=call.clock
    )


@router.post("/scribes/{scribe_id}/mark", response_model=ScribeOut, tags=["scribing"])
def mark_scribe(call: SignedIn, scribe_id: PathId, body: ScribeMarkIn) -> object:
    return activities.mark_scribe(
        call.session, call.actor, scribe_id, satisfactory=body.satisfactory, clock=call.clock
    )


@router.post(
    "/scribes/{scribe_id}/move",
    response_model=ScribeMoveOut,
    tags=["scribing"],
    summary="Move one student's scribe lecture to another (staff; warns when the "
    "lecture left has no scribe)",
)
def move_scribe(call: SignedIn, scribe_id: PathId, body: ScribeMoveIn) -> object:
    move = scribe_moves.move_scribe(
        call.session, call.actor, scribe_id, to_lecture=body.lecture, clock=call.clock
    )
    return ScribeMoveOut(
        scribe=ScribeOut.model_validate(move.scribe),
        lecture=move.lecture,
        left_without_scribe=move.left_without_scribe,
        warning=move.warning,
    )


@router.get("/peer-reviews", response_model=list[PeerReviewOut], tags=["peer review"])
def list_peer_reviews(call: SignedIn) -> object:
    return activities.list_peer_reviews(call.session, call.actor)


@router.post(
    "/peer-reviews/assign",
    response_model=list[PeerReviewOut],
    tags=["peer review"],
    summary="Pair groups for peer review (staff)",
)
def assign_peer_reviews(call: SignedIn, body: DealIn) -> object:
    return activities.assign_peer_reviews(
        call.session, call.actor, seed=body.seed, replace=body.replace, clock=call.clock
    )


@router.get("/slots", response_model=list[SlotOut], tags=["sign-ups"])
def list_slots(call: SignedIn, kind: Annotated[str | None, Query(max_length=32)] = None) -> object:
    return activities.list_slots(call.session, call.actor, kind=kind)


@router.post(
    "/slots",
    response_model=SlotOut,
    status_code=201,
    tags=["sign-ups"],
    summary="Open a checkoff, check-in or presentation slot (staff)",
)
def create_slot(call: SignedIn, body: SlotIn) -> object:
    data = body.model_dump()
    return activities.create_slot(
        call.session,
        call.actor,
        kind=data["kind"],
        starts_at=data["starts_at"],
        ends_at=data["ends_at"],
        capacity=data["capacity"],
        assignment=data["assignment"],
        presentation_session=data["session"],
        location=data["location"],
        clock=call.clock,
    )


@router.post(
    "/slots/{slot_id}/signups",
    response_model=SignupOut,
    status_code=201,
    tags=["sign-ups"],
    summary="Book a slot for your group",
)
def sign_up(call: SignedIn, slot_id: PathId, body: SignupIn) -> object:
    return activities.sign_up(
        call.session, call.actor, slot_id, group_id=body.group_id, clock=call.clock
    )


@router.delete("/signups/{signup_id}", status_code=204, tags=["sign-ups"])
def cancel_signup(call: SignedIn, signup_id: PathId) -> None:
    activities.cancel_signup(call.session, call.actor, signup_id, clock=call.clock)
