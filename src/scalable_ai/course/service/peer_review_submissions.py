"""Structured peer reviews: the reviewing group reads the assigned draft report and submits
its review; staff read every review; the reviewed group reads its reviews after the deadline.

Syllabus, Research Project: "each group will provide a structured, constructive review of
another group's report" (the pairing is :func:`scalable_ai.course.service.activities.
assign_peer_reviews`), due on the peer-review milestone (May 1). The rubric and the window are
the pure rules of :mod:`scalable_ai.course.policy.peer_review_rubric`. The draft report is
the reviewed group's latest hand-in for the draft-report milestone, in either store that
holds one: a project deliverable (``draft_report``) or a milestone submission.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock, in_words
from scalable_ai.course.policy import peer_review_rubric as rubric
from scalable_ai.course.policy.peer_review import check_peer_review
from scalable_ai.course.service.actors import (
    Actor,
    current_group_id,
    get_group,
    require_member_or_staff,
    require_staff,
)
from scalable_ai.course.service.course import (
    PEER_REVIEW_MILESTONE,
    milestone_by_key,
    milestone_due_at,
    settings_of,
)
from scalable_ai.course.tables import Group, PeerReview, PeerReviewAssignment, Submission
from scalable_ai.course.tables.community import ProjectDeliverable
from scalable_ai.errors import Forbidden

DRAFT_REPORT = "draft_report"  # the milestone (and deliverable kind) a peer review reads


@dataclass(frozen=True)
class DraftReport:
    """The report a reviewing group reads: where it is and when it was handed in."""

    group_id: int
    link: str
    submitted_at: datetime
    late: bool


def peer_review_due(session: Session) -> datetime:
    """The peer-review deadline, from the course's milestones (May 1 at the deadline time)."""
    return milestone_due_at(milestone_by_key(session, PEER_REVIEW_MILESTONE), settings_of(session))


def reviews_released(session: Session, clock: Clock) -> bool:
    """Whether reviewed groups may read their reviews yet (after the deadline)."""
    return rubric.reviews_released(clock.now(), peer_review_due(session))


def _reviewing_group_id(session: Session, actor: Actor, what: str) -> int:
    group_id = current_group_id(session, actor.person_id) if actor.person_id else None
    if group_id is None:
        raise Forbidden(f"only a member of the reviewing group may {what}")
    return group_id


def _require_pairing(session: Session, reviewer_id: int, reviewed_id: int) -> None:
    """A group reviews only the report it was assigned, and never its own."""
    check_peer_review(str(reviewer_id), str(reviewed_id))
    paired = session.scalar(
        select(PeerReviewAssignment.id).where(
            PeerReviewAssignment.reviewer_group_id == reviewer_id,
            PeerReviewAssignment.reviewed_group_id == reviewed_id,
        )
    )
    if paired is None:
        raise Forbidden("your group is not assigned to review this group's report")


def _latest_draft(session: Session, group_id: int) -> DraftReport | None:
    candidates: list[DraftReport] = []
    deliverable = session.scalars(
        select(ProjectDeliverable)
        .where(ProjectDeliverable.group_id == group_id, ProjectDeliverable.kind == DRAFT_REPORT)
        .order_by(ProjectDeliverable.submitted_at.desc(), ProjectDeliverable.id.desc())
    ).first()
    if deliverable is not None:
        candidates.append(
            DraftReport(group_id, deliverable.link, deliverable.submitted_at, deliverable.late)
        )
    milestone = milestone_by_key(session, DRAFT_REPORT)
    hand_in = session.scalars(
        select(Submission)
        .where(Submission.group_id == group_id, Submission.milestone_id == milestone.id)
        .order_by(Submission.submitted_at.desc(), Submission.id.desc())
    ).first()
    if hand_in is not None and hand_in.link:
        candidates.append(
            DraftReport(
                group_id,
                hand_in.link,
                hand_in.submitted_at,
                hand_in.submitted_at > hand_in.deadline_applied,
            )
        )
    return max(candidates, key=lambda d: d.submitted_at, default=None)


def assigned_report(session: Session, actor: Actor, reviewed_group_id: int) -> DraftReport | None:
    """The draft report the actor's group reviews (staff: any group's); ``None`` while the
    group has handed none in."""
    get_group(session, reviewed_group_id, field="reviewed_group_id")
    if not actor.is_staff:
        mine = _reviewing_group_id(session, actor, "read this draft report")
        if mine != reviewed_group_id:
            _require_pairing(session, mine, reviewed_group_id)
    return _latest_draft(session, reviewed_group_id)


def my_review_of(session: Session, actor: Actor, reviewed_group_id: int) -> PeerReview | None:
    """The review the actor's group has written of this group so far (to edit it)."""
    mine = _reviewing_group_id(session, actor, "read this review")
    return session.scalar(
        select(PeerReview).where(
            PeerReview.reviewer_group_id == mine, PeerReview.reviewed_group_id == reviewed_group_id
        )
    )


def submit_review(
    session: Session,
    actor: Actor,
    reviewed_group_id: int,
    fields: Mapping[str, object],
    *,
    clock: Clock,
) -> PeerReview:
    """Any member of the reviewing group submits (or edits) the group's review, until the
    peer-review deadline; never of its own report, only of the one it was assigned."""
    get_group(session, reviewed_group_id, field="reviewed_group_id")
    mine = _reviewing_group_id(session, actor, "submit this peer review")
    _require_pairing(session, mine, reviewed_group_id)
    now = clock.now()
    rubric.check_review_open(now, peer_review_due(session))
    form = rubric.check_review(fields)
    row = session.scalar(
        select(PeerReview)
        .where(
            PeerReview.reviewer_group_id == mine, PeerReview.reviewed_group_id == reviewed_group_id
        )
        .with_for_update()
    )
    before = audit.snapshot(row)
    if row is None:
        row = PeerReview(
            reviewer_group_id=mine,
            reviewed_group_id=reviewed_group_id,
            submitted_at=now,
            submitted_by_id=actor.person_id,
        )
        session.add(row)
    for key, score in form.scores.items():
        setattr(row, key, score)
    row.strengths, row.weaknesses, row.suggestions = (
        form.strengths,
        form.weaknesses,
        form.suggestions,
    )
    row.updated_at, row.updated_by_id = now, actor.person_id
    for pairing in session.scalars(
        select(PeerReviewAssignment).where(
            PeerReviewAssignment.reviewer_group_id == mine,
            PeerReviewAssignment.reviewed_group_id == reviewed_group_id,
        )
    ):
        pairing.submitted_at = now
    audit.record(
        session,
        actor,
        "peer_review.submit" if before is None else "peer_review.edit",
        row,
        before=before,
        at=now,
    )
    return row


def reviews_of(
    session: Session, actor: Actor, group_id: int, *, clock: Clock
) -> Sequence[PeerReview]:
    """The reviews of a group's report: staff at any time; the group's members once the
    peer-review deadline has passed."""
    get_group(session, group_id)
    require_member_or_staff(session, actor, group_id, "read the reviews of this report")
    if not actor.is_staff:
        due = peer_review_due(session)
        if not rubric.reviews_released(clock.now(), due):
            raise Forbidden(
                "the reviews of your report are shown after the peer-review "
                f"deadline, {in_words(due)}"
            )
    return session.scalars(
        select(PeerReview).where(PeerReview.reviewed_group_id == group_id).order_by(PeerReview.id)
    ).all()


def list_reviews(session: Session, actor: Actor) -> Sequence[PeerReview]:
    """Every group's review (staff), to weigh peer feedback into technical quality."""
    require_staff(actor, "read every peer review")
    return session.scalars(
        select(PeerReview).order_by(PeerReview.reviewed_group_id, PeerReview.id)
    ).all()


@dataclass(frozen=True)
class AssignedReview:
    """One review the actor's group is assigned to write: whose report, the deadline, whether
    it is still open, the draft report (None until handed in) and the review written so far
    (None until submitted)."""

    reviewed_group_id: int
    reviewed_group_name: str
    due_at: datetime
    open: bool
    draft: DraftReport | None
    review: PeerReview | None


def _assigned(
    session: Session, reviewer_id: int, reviewed_id: int, due: datetime, now: datetime
) -> AssignedReview:
    name = session.scalar(select(Group.name).where(Group.id == reviewed_id)) or ""
    review = session.scalar(
        select(PeerReview).where(
            PeerReview.reviewer_group_id == reviewer_id, PeerReview.reviewed_group_id == reviewed_id
        )
    )
    return AssignedReview(
        reviewed_id,
        name,
        due,
        not rubric.reviews_released(now, due),
        _latest_draft(session, reviewed_id),
        review,
    )


def assigned_reviews(session: Session, actor: Actor, *, clock: Clock) -> list[AssignedReview]:
    """The reviews the actor's group is assigned to write (none for someone in no group,
    staff included: staff read reviews, they do not write them)."""
    mine = current_group_id(session, actor.person_id) if actor.person_id else None
    if mine is None:
        return []
    due, now = peer_review_due(session), clock.now()
    reviewed = session.scalars(
        select(PeerReviewAssignment.reviewed_group_id)
        .where(PeerReviewAssignment.reviewer_group_id == mine)
        .order_by(PeerReviewAssignment.id)
    )
    return [_assigned(session, mine, r, due, now) for r in dict.fromkeys(reviewed)]


def assigned_review(
    session: Session, actor: Actor, reviewed_group_id: int, *, clock: Clock
) -> AssignedReview:
    """One review the actor's group is assigned to write: the draft to read and the review
    so far (only the reviewing group's members)."""
    get_group(session, reviewed_group_id, field="reviewed_group_id")
    mine = _reviewing_group_id(session, actor, "read this review")
    _require_pairing(session, mine, reviewed_group_id)
    return _assigned(session, mine, reviewed_group_id, peer_review_due(session), clock.now())
