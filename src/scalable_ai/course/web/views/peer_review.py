"""Peer review, the student side: "each group will provide a structured, constructive review
of another group's report" (syllabus, Research Project).

The reviewing group sees whose draft it reviews, opens the draft report and writes the
structured review (the five technical-quality scores, strengths, weaknesses, suggestions),
editable until the peer-review deadline (May 1). The reviewed group reads the reviews of its
report after that deadline; staff read every review here and, with the per-group summary, on
``/staff/peer-reviews`` (the staff nav's "Peer reviews"). Rules:
``course.service.peer_review_submissions``; the pairing: ``course.service.activities``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from scalable_ai.course.policy.peer_review_rubric import (
    CRITERIA,
    HIGHEST_SCORE,
    LOWEST_SCORE,
    WRITTEN_PARTS,
)
from scalable_ai.course.service import activities as activity_service
from scalable_ai.course.service import groups as group_service
from scalable_ai.course.service import peer_feedback
from scalable_ai.course.service import peer_review_submissions as reviews
from scalable_ai.course.service.course import settings_of
from scalable_ai.course.tables import Group
from scalable_ai.course.web.visit import Visit, checked_form, open_visit
from scalable_ai.errors import UserError

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]
REVIEW_FIELDS = tuple(key for key, _ in CRITERIA + WRITTEN_PARTS)


def _values_of(row: Any) -> dict[str, str]:
    return {key: str(getattr(row, key)) for key in REVIEW_FIELDS} if row is not None else {}


def _page(
    visit: Visit,
    *,
    entered: Mapping[str, Any] | None = None,
    entered_for: int = 0,
    error: UserError | None = None,
) -> Response:
    """The page; after a refused form, the values just entered and the refusal beside the
    field it names (status 4xx, so nothing typed is lost)."""
    me = visit.person()
    actor = visit.actor()
    clock = visit.state.clock
    names = dict(visit.db.execute(select(Group.id, Group.name)).all())
    group = None if me.is_staff else group_service.my_group(visit.db, actor)
    writing, received, released = [], [], reviews.reviews_released(visit.db, clock)
    if group is not None:
        for pair in activity_service.list_peer_reviews(visit.db, actor):
            if pair.reviewer_group_id != group.id:
                continue
            mine = reviews.my_review_of(visit.db, actor, pair.reviewed_group_id)
            writing.append(
                {
                    "pair": pair,
                    "review": mine,
                    "draft": reviews.assigned_report(visit.db, actor, pair.reviewed_group_id),
                    "values": dict(entered)
                    if entered is not None and entered_for == pair.reviewed_group_id
                    else _values_of(mine),
                }
            )
        if released:
            received = list(reviews.reviews_of(visit.db, actor, group.id, clock=clock))
    every = list(reviews.list_reviews(visit.db, actor)) if me.is_staff else []
    return visit.page(
        "peer_review.html",
        title="Peer review",
        active="/peer-review",
        group=group,
        pairs=activity_service.list_peer_reviews(visit.db, actor),
        names=names,
        writing=writing,
        received=received,
        released=released,
        every=every,
        due=reviews.peer_review_due(visit.db),
        criteria=CRITERIA,
        written_parts=WRITTEN_PARTS,
        lowest=LOWEST_SCORE,
        highest=HIGHEST_SCORE,
        error=error,
        peer_share=settings_of(visit.db).peer_review_weight,
        status_code=error.status_code if error is not None else 200,
    )


@router.get("/peer-review")
def peer_review(visit: VisitDep) -> Response:
    return _page(visit)


@router.get("/staff/peer-reviews")
def staff_peer_reviews(visit: VisitDep) -> Response:
    """Staff's peer-review page: per group, the reviews received (mean per criterion, the
    peer score the grade book blends in) and written, then every review in full."""
    visit.staff()
    actor = visit.actor()
    return visit.page(
        "staff/peer_reviews.html",
        title="Peer reviews",
        active="/staff/peer-reviews",
        summary=peer_feedback.review_summary(visit.db, actor, clock=visit.state.clock),
        every=list(reviews.list_reviews(visit.db, actor)),
        names=dict(visit.db.execute(select(Group.id, Group.name)).all()),
        criteria=CRITERIA,
        written_parts=WRITTEN_PARTS,
        highest=HIGHEST_SCORE,
    )


@router.post("/peer-review/{reviewed_group_id}")
def submit_peer_review(visit: VisitDep, form: FormDep, reviewed_group_id: int) -> Response:
    visit.person()
    entered = {key: str(form.get(key) or "") for key in REVIEW_FIELDS}
    try:
        visit.begin_write()
        reviews.submit_review(
            visit.db, visit.actor(), reviewed_group_id, entered, clock=visit.state.clock
        )
        visit.db.commit()
    except UserError as exc:
        visit.db.rollback()
        return _page(visit, entered=entered, entered_for=reviewed_group_id, error=exc)
    except IntegrityError:
        visit.db.rollback()
        return visit.redirect(
            "/peer-review",
            error="a groupmate saved this review at the same time; reload and try again",
        )
    return visit.redirect("/peer-review", ok="Review saved. You can edit it until the deadline.")
