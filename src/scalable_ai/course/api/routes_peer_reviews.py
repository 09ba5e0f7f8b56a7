"""Peer review over the API: "each group will provide a structured, constructive review of
another group's report" (syllabus, Research Project), due May 1.

A student lists the reviews their group writes, reads one (the draft report and the review so
far) and submits or edits it until the deadline; the group reads the reviews of its own
report after the deadline. Staff read every review and the per-group summary. The pairing
routes (``/peer-reviews``, ``/peer-reviews/assign``) are in ``routes_work``. Rules:
``course.service.peer_review_submissions`` and ``course.service.peer_feedback``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from scalable_ai.course.api.context import SignedIn
from scalable_ai.course.api.review_schemas import (
    AssignedReviewOut,
    PeerReviewIn,
    ReviewOut,
    ReviewSummaryOut,
)
from scalable_ai.course.api.schemas import Id
from scalable_ai.course.service import peer_feedback
from scalable_ai.course.service import peer_review_submissions as reviews

router = APIRouter(tags=["peer review"])
PathId = Annotated[Id, Path()]


@router.get(
    "/peer-reviews/assigned",
    response_model=list[AssignedReviewOut],
    summary="The reviews your group writes, each with the draft report and your review",
)
def assigned_reviews(call: SignedIn) -> object:
    return reviews.assigned_reviews(call.session, call.actor, clock=call.clock)


@router.get(
    "/peer-reviews/assigned/{reviewed_group_id}",
    response_model=AssignedReviewOut,
    summary="One review your group writes: the draft report and your review so far",
)
def assigned_review(call: SignedIn, reviewed_group_id: PathId) -> object:
    return reviews.assigned_review(call.session, call.actor, reviewed_group_id, clock=call.clock)


@router.put(
    "/peer-reviews/assigned/{reviewed_group_id}",
    response_model=ReviewOut,
    summary="Submit or edit your group's review (until the peer-review deadline)",
)
def submit_review(call: SignedIn, reviewed_group_id: PathId, body: PeerReviewIn) -> object:
    return reviews.submit_review(
        call.session, call.actor, reviewed_group_id, body.model_dump(), clock=call.clock
    )


@router.get(
    "/groups/{group_id}/peer-reviews",
    response_model=list[ReviewOut],
    summary="The reviews of a group's report (its members after the deadline; staff)",
)
def reviews_of(call: SignedIn, group_id: PathId) -> object:
    return reviews.reviews_of(call.session, call.actor, group_id, clock=call.clock)


@router.get(
    "/peer-reviews/reviews",
    response_model=list[ReviewOut],
    summary="Every submitted review (staff)",
)
def every_review(call: SignedIn) -> object:
    return reviews.list_reviews(call.session, call.actor)


@router.get(
    "/peer-reviews/summary",
    response_model=ReviewSummaryOut,
    summary="Per group: reviews received, the peer score, reviews written (staff)",
)
def review_summary(call: SignedIn) -> object:
    return peer_feedback.review_summary(call.session, call.actor, clock=call.clock)
