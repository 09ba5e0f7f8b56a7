"""Schemas for peer review over the API: the structured review (the five technical-quality
scores, 1–5, and the three written parts), what a reviewing group is assigned, and staff's
summary. The rubric itself is :mod:`scalable_ai.course.policy.peer_review_rubric`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from scalable_ai.course.api.schemas import Out
from scalable_ai.course.policy.peer_review_rubric import HIGHEST_SCORE, LOWEST_SCORE, TEXT_LIMIT

CriterionScore = Annotated[int, Field(ge=LOWEST_SCORE, le=HIGHEST_SCORE)]
WrittenPart = Annotated[str, StringConstraints(max_length=TEXT_LIMIT, pattern=r"^[^\x00]*$")]


class PeerReviewIn(BaseModel):
    """A whole review: every score and every written part is required."""

    clarity_of_hypothesis: CriterionScore
    technical_depth: CriterionScore
    correctness: CriterionScore
    experimental_rigor: CriterionScore
    artifact_quality: CriterionScore
    strengths: WrittenPart
    weaknesses: WrittenPart
    suggestions: WrittenPart


class ReviewOut(Out):
    id: int
    reviewer_group_id: int
    reviewed_group_id: int
    clarity_of_hypothesis: int
    technical_depth: int
    correctness: int
    experimental_rigor: int
    artifact_quality: int
    strengths: str
    weaknesses: str
    suggestions: str
    submitted_at: datetime
    updated_at: datetime


class DraftReportOut(Out):
    link: str
    submitted_at: datetime
    late: bool


class AssignedReviewOut(Out):
    """A review your group writes: the report, its draft, the deadline and your review."""

    reviewed_group_id: int
    reviewed_group_name: str
    due_at: datetime
    open: bool
    draft: DraftReportOut | None
    review: ReviewOut | None


class GroupFeedbackOut(Out):
    group_id: int
    group_name: str
    reviews_received: int
    criteria: dict[str, float]
    peer_score: float | None
    reviews_assigned: int
    reviews_written: int


class ReviewSummaryOut(Out):
    """Per group: reviews received (mean per criterion, the peer score as a percentage) and
    reviews written; ``released``: the reviews count in grades (after the deadline)."""

    due_at: datetime
    released: bool
    peer_share: float
    groups: list[GroupFeedbackOut]
