"""Peer feedback in the grade: what the reviews of a group's report add up to, for staff's
summary and for each member's technical-quality score.

Syllabus, Research Project: "The Technical Quality aspect of the grading will incorporate peer
feedback as well as the teaching staff feedback." The blend is
:func:`scalable_ai.course.policy.grading.technical_score` with the course setting
``peer_review_weight`` (20% of technical quality by default); a review's percentage and a
report's peer score are :func:`scalable_ai.course.policy.peer_review_rubric.peer_score`.

Rules the syllabus leaves open, chosen here (docs/course-platform.md says them too):

- A student's peer score is that of their current group's report.
- Reviews count once the peer-review deadline has passed, when the reviewed group may read
  them; before it, a grade never moves with a review still being edited (or show its score).
- A report that received no review has no peer part: technical quality is the staff score
  alone (the staff share renormalized to 100%), never a 0 or a 100 made up for it.
- A ``project.technical.peer`` score staff record by hand (say, from Gradescope, where the
  syllabus has peer reviews submitted) replaces the reviews' score for that student.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from scalable_ai.course.clock import Clock
from scalable_ai.course.policy import peer_review_rubric as rubric
from scalable_ai.course.policy.settings import CourseSettings
from scalable_ai.course.service.actors import Actor, current_group, require_staff
from scalable_ai.course.service.course import (
    PEER_REVIEW_MILESTONE,
    milestone_by_key,
    milestone_due_at,
    settings_of,
)
from scalable_ai.course.service.peer_review_submissions import peer_review_due
from scalable_ai.course.tables import Group, PeerReview, PeerReviewAssignment


def review_scores(row: PeerReview) -> dict[str, int]:
    """A stored review's five criterion scores (field → 1..5)."""
    return {key: getattr(row, key) for key, _ in rubric.CRITERIA}


@dataclass(frozen=True)
class GroupPeerFeedback:
    """One group in staff's summary: the reviews its report received (mean per criterion and
    the peer score, a percentage) and how many of its assigned reviews it has written."""

    group_id: int
    group_name: str
    reviews_received: int
    criteria: dict[str, float]
    peer_score: float | None
    reviews_assigned: int
    reviews_written: int


@dataclass(frozen=True)
class PeerReviewSummary:
    """Every group's peer feedback, the deadline, whether reviews count in grades yet
    (``released``) and the peers' share of technical quality."""

    due_at: datetime
    released: bool
    peer_share: float
    groups: list[GroupPeerFeedback]


def review_summary(session: Session, actor: Actor, *, clock: Clock) -> PeerReviewSummary:
    """Staff's overview of peer review: per group, what it received and what it wrote."""
    require_staff(actor, "see the peer-review summary")
    due = peer_review_due(session)
    received: dict[int, list[dict[str, int]]] = {}
    written: dict[int, int] = {}
    for row in session.scalars(select(PeerReview).order_by(PeerReview.id)):
        received.setdefault(row.reviewed_group_id, []).append(review_scores(row))
        written[row.reviewer_group_id] = written.get(row.reviewer_group_id, 0) + 1
    assigned: dict[int, int] = {
        reviewer: count
        for reviewer, count in session.execute(
            select(PeerReviewAssignment.reviewer_group_id, func.count()).group_by(
                PeerReviewAssignment.reviewer_group_id
            )
        )
    }
    groups = []
    for group_id, name in session.execute(select(Group.id, Group.name).order_by(Group.name)):
        reviews = received.get(group_id, [])
        criteria = (
            {key: sum(r[key] for r in reviews) / len(reviews) for key, _ in rubric.CRITERIA}
            if reviews
            else {}
        )
        if not reviews and not assigned.get(group_id) and not written.get(group_id):
            continue  # a group outside peer review (formed after the pairing, or empty)
        groups.append(
            GroupPeerFeedback(
                group_id=group_id,
                group_name=name,
                reviews_received=len(reviews),
                criteria=criteria,
                peer_score=rubric.peer_score(reviews),
                reviews_assigned=assigned.get(group_id, 0),
                reviews_written=written.get(group_id, 0),
            )
        )
    return PeerReviewSummary(
        due_at=due,
        released=rubric.reviews_released(clock.now(), due),
        peer_share=settings_of(session).peer_review_weight,
        groups=groups,
    )


@dataclass(frozen=True)
class PeerPart:
    """The peer part of one student's technical quality: the score (None: no peer part) and
    the note the grade report carries to say why."""

    score: float | None
    note: str | None


# Built once: the dashboard's running grade reads them on every load.
_REVIEWS_OF = select(PeerReview).where(PeerReview.reviewed_group_id == bindparam("group_id"))


def peer_part_of_grade(
    session: Session, person_id: int, *, clock: Clock, settings: CourseSettings | None = None
) -> PeerPart:
    """The peer score a student's technical quality blends in, from the reviews of their
    group's report, once the peer-review deadline has passed (see the module's rules).
    ``settings``: the course settings when the caller has read them already (the dashboard
    computes a grade on every load, so this reads as little as it can)."""
    group = current_group(session, person_id)
    if group is None:
        return PeerPart(None, None)
    group_id, name = group
    settings = settings or settings_of(session)
    due = milestone_due_at(milestone_by_key(session, PEER_REVIEW_MILESTONE), settings)
    share = settings.peer_review_weight
    if not rubric.reviews_released(clock.now(), due):
        return PeerPart(
            None,
            f"peer review: counts for {share:.0%} of technical quality once "
            f"the peer-review deadline ({due:%b %d}) has passed",
        )
    reviews = [review_scores(r) for r in session.scalars(_REVIEWS_OF, {"group_id": group_id})]
    score = rubric.peer_score(reviews)
    if score is None:
        return PeerPart(
            None,
            f"peer review: no review of {name}'s report was received, so "
            "technical quality is the staff score alone",
        )
    return PeerPart(
        score,
        f"peer review: {len(reviews)} review(s) of {name}'s report give "
        f"{score:.1f}, {share:.0%} of technical quality",
    )
