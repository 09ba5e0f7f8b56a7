"""The project routes of the community API: assignment enhancements, research directions
and project deliverables (included by :mod:`.api`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from scalable_ai.course.api.context import Public, SignedIn
from scalable_ai.course.api.schemas import Id
from scalable_ai.course.community.api_schemas import (
    ChoiceIn,
    ChoiceOut,
    DeliverableIn,
    DeliverableOut,
    DirectionIn,
    DirectionOut,
    EnhancementIn,
    EnhancementOut,
    EnhancementReviewIn,
    EnhancementsScoreOut,
    ReviewIn,
)
from scalable_ai.course.community.service import project

router = APIRouter()
PathId = Annotated[Id, Path()]


@router.post(
    "/groups/{group_id}/enhancements",
    response_model=EnhancementOut,
    status_code=201,
    tags=["project"],
    summary="Propose an enhancement of an assignment (group members)",
)
def propose_enhancement(call: SignedIn, group_id: PathId, body: EnhancementIn) -> object:
    return project.propose_enhancement(
        call.session,
        call.actor,
        group_id,
        assignment_key=body.assignment,
        kind=body.kind,
        title=body.title,
        description=body.description,
        clock=call.clock,
    )


@router.get(
    "/groups/{group_id}/enhancements",
    response_model=list[EnhancementOut],
    tags=["project"],
    summary="A group's enhancements (members and staff)",
)
def group_enhancements(call: SignedIn, group_id: PathId) -> object:
    return project.list_enhancements(call.session, call.actor, group_id)


@router.get(
    "/groups/{group_id}/enhancements/score",
    response_model=EnhancementsScoreOut,
    tags=["project"],
    summary="The group's enhancements component (10%)",
)
def enhancements_score(call: SignedIn, group_id: PathId) -> object:
    score, note = project.enhancements_score(call.session, call.actor, group_id)
    return EnhancementsScoreOut(score=score, note=note)


@router.get(
    "/enhancements",
    response_model=list[EnhancementOut],
    tags=["project"],
    summary="Every group's enhancements (staff)",
)
def all_enhancements(call: SignedIn) -> object:
    return project.list_enhancements(call.session, call.actor)


@router.post(
    "/enhancements/{enhancement_id}/review",
    response_model=EnhancementOut,
    tags=["project"],
    summary="Accept with a score, or return (staff)",
)
def review_enhancement(call: SignedIn, enhancement_id: PathId, body: EnhancementReviewIn) -> object:
    return project.review_enhancement(
        call.session,
        call.actor,
        enhancement_id,
        decision=body.decision,
        score=body.score,
        feedback=body.feedback,
        clock=call.clock,
    )


@router.get(
    "/research-directions",
    response_model=list[DirectionOut],
    tags=["project"],
    summary="Released research directions (public, as on the course site)",
)
def released_directions(public: Public) -> object:
    session, clock = public
    return project.released_directions(session, clock=clock)


@router.post(
    "/research-directions",
    response_model=DirectionOut,
    status_code=201,
    tags=["project"],
    summary="Post a research direction (staff)",
)
def post_direction(call: SignedIn, body: DirectionIn) -> object:
    return project.post_direction(
        call.session,
        call.actor,
        title=body.title,
        summary=body.summary,
        released_on=body.released_on,
        clock=call.clock,
    )


@router.put(
    "/groups/{group_id}/direction",
    response_model=ChoiceOut,
    tags=["project"],
    summary="Pick a direction or propose your own (group members)",
)
def choose_direction(call: SignedIn, group_id: PathId, body: ChoiceIn) -> object:
    return project.choose_direction(
        call.session,
        call.actor,
        group_id,
        direction_id=body.direction_id,
        own_title=body.own_title,
        own_summary=body.own_summary,
        clock=call.clock,
    )


@router.get(
    "/groups/{group_id}/direction",
    response_model=ChoiceOut | None,
    tags=["project"],
    summary="The group's direction and its approval",
)
def group_direction(call: SignedIn, group_id: PathId) -> object:
    return project.direction_choice(call.session, call.actor, group_id)


@router.post(
    "/groups/{group_id}/direction/review",
    response_model=ChoiceOut,
    tags=["project"],
    summary="Approve or return a group's direction (staff)",
)
def review_direction(call: SignedIn, group_id: PathId, body: ReviewIn) -> object:
    return project.review_direction(
        call.session,
        call.actor,
        group_id,
        decision=body.decision,
        feedback=body.feedback,
        clock=call.clock,
    )


@router.get(
    "/direction-choices",
    response_model=list[ChoiceOut],
    tags=["project"],
    summary="Every group's direction (staff)",
)
def direction_choices(call: SignedIn) -> object:
    return project.direction_choices(call.session, call.actor)


@router.post(
    "/groups/{group_id}/deliverables",
    response_model=DeliverableOut,
    status_code=201,
    tags=["project"],
    summary="Hand in a project deliverable or impact evidence (group members)",
)
def submit_deliverable(call: SignedIn, group_id: PathId, body: DeliverableIn) -> object:
    return project.submit_deliverable(
        call.session,
        call.actor,
        group_id,
        kind=body.kind,
        link=body.link,
        code_link=body.code_link,
        summary=body.summary,
        evidence_kind=body.evidence_kind,
        integrity_statement=body.integrity_statement,
        clock=call.clock,
    )


@router.get(
    "/groups/{group_id}/deliverables",
    response_model=list[DeliverableOut],
    tags=["project"],
    summary="A group's deliverables (members and staff)",
)
def group_deliverables(call: SignedIn, group_id: PathId) -> object:
    return project.list_deliverables(call.session, call.actor, group_id)


@router.get(
    "/deliverables",
    response_model=list[DeliverableOut],
    tags=["project"],
    summary="Every group's deliverables (staff)",
)
def all_deliverables(call: SignedIn) -> object:
    return project.list_deliverables(call.session, call.actor)


@router.post(
    "/deliverables/{deliverable_id}/review",
    response_model=DeliverableOut,
    tags=["project"],
    summary="Accept (verify impact evidence) or return (staff)",
)
def review_deliverable(call: SignedIn, deliverable_id: PathId, body: ReviewIn) -> object:
    return project.review_deliverable(
        call.session,
        call.actor,
        deliverable_id,
        decision=body.decision,
        feedback=body.feedback,
        clock=call.clock,
    )
