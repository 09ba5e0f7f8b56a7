"""Assignment enhancements, research directions and project deliverables.

Syllabus: "Enhancements (10%): Contribute meaningfully by adding questions, or reframing the
programmatic part to be more challenging"; "Research directions released (Jan 22): Posted
on course site; brainstorming begins"; the project milestones from hypothesis v1 to the
impact update, where "Impact is scored on *evidence* of external usefulness" (staff verify
each piece of evidence). Rules in :mod:`..project_rules`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock
from scalable_ai.course.community import project_rules as rules
from scalable_ai.course.community.forum_rules import check_body, check_title
from scalable_ai.course.service.actors import (
    Actor,
    get_group,
    require_member_or_staff,
    require_staff,
)
from scalable_ai.course.service.course import (
    assignment_by_key,
    course_today,
    milestone_by_key,
    milestone_due_at,
    row_by_id,
    settings_of,
)
from scalable_ai.course.tables import Assignment
from scalable_ai.course.tables.community import (
    DirectionChoice,
    Enhancement,
    ProjectDeliverable,
    ResearchDirection,
)
from scalable_ai.errors import Conflict, NotFound, UserError

DIRECTIONS_MILESTONE = "research_directions"


def record_review(
    session: Session,
    actor: Actor,
    row: Any,
    outcome: rules.Review,
    feedback: str,
    *,
    action: str,
    clock: Clock,
    snapshot: Callable[[Any], dict[str, Any] | None] = audit.snapshot,
    **changes: Any,
) -> None:
    """Store staff's decision on a hand-in (an enhancement, a direction, a deliverable, scribe
    notes; ``outcome`` from :func:`..project_rules.decide`): its status, feedback, reviewer
    and any ``changes`` (an enhancement's score), audited with the row before and after."""
    before = snapshot(row)
    for name, value in changes.items():
        setattr(row, name, value)
    row.status, row.feedback = outcome.value, (feedback or "").strip()
    row.reviewed_at, row.reviewed_by_id = clock.now(), actor.person_id
    audit.record(session, actor, action, row, before=before, after=snapshot(row), at=clock.now())


# --- enhancements ------------------------------------------------------------------------


def propose_enhancement(
    session: Session,
    actor: Actor,
    group_id: int,
    *,
    assignment_key: str,
    kind: str,
    title: str,
    description: str,
    clock: Clock,
) -> Enhancement:
    """A group proposes added questions or a harder programmatic part for an assignment."""
    get_group(session, group_id)
    require_member_or_staff(session, actor, group_id, "propose enhancements for this group")
    assignment = assignment_by_key(session, assignment_key)
    try:
        kind = rules.EnhancementKind(kind).value
    except ValueError:
        raise UserError(
            "kind must be added_questions or harder_programmatic", field="kind"
        ) from None
    row = Enhancement(
        group_id=group_id,
        assignment_id=assignment.id,
        kind=kind,
        title=check_title(title),
        description=check_body(description, "description"),
        proposed_at=clock.now(),
        proposed_by_id=actor.person_id,
        status=rules.Review.PENDING.value,
    )
    session.add(row)
    audit.record(session, actor, "enhancement.propose", row, before=None, at=clock.now())
    return row


def review_enhancement(
    session: Session,
    actor: Actor,
    enhancement_id: int,
    *,
    decision: str,
    score: float | None = None,
    feedback: str = "",
    clock: Clock,
) -> Enhancement:
    """Staff accept an enhancement with a score (0–100) or return it with feedback."""
    require_staff(actor, "review enhancements")
    row = row_by_id(session, Enhancement, enhancement_id, what="enhancement", field="enhancement")
    outcome = rules.decide(row.status, decision, feedback)
    record_review(
        session,
        actor,
        row,
        outcome,
        feedback,
        action="enhancement.review",
        clock=clock,
        score=rules.check_enhancement_score(score) if outcome is rules.Review.ACCEPTED else None,
    )
    if outcome is rules.Review.ACCEPTED:
        _score_in_grade_book(session, actor, row, clock)
    return row


def _score_in_grade_book(session: Session, actor: Actor, row: Enhancement, clock: Clock) -> None:
    """The group's best accepted enhancement of this assignment becomes every member's
    ``A<n>.enhancement`` score, which the grade's enhancements component (10%) averages."""
    from scalable_ai.course.service.grades import record_group_score

    session.flush()
    assignment = session.get(Assignment, row.assignment_id)
    assert assignment is not None
    best = (
        session.scalar(
            select(func.max(Enhancement.score)).where(
                Enhancement.group_id == row.group_id,
                Enhancement.assignment_id == row.assignment_id,
                Enhancement.status == rules.Review.ACCEPTED.value,
            )
        )
        or 0.0
    )
    record_group_score(
        session,
        actor,
        group_id=row.group_id,
        item=f"{assignment.key}.enhancement",
        points=float(best),
        comment=f"best accepted enhancement of {assignment.key}: {row.title}",
        clock=clock,
    )


def list_enhancements(
    session: Session, actor: Actor, group_id: int | None = None
) -> Sequence[Enhancement]:
    """A group's enhancements (members and staff); every group's for staff."""
    stmt = select(Enhancement).order_by(Enhancement.id)
    if group_id is None:
        require_staff(actor, "see every group's enhancements")
    else:
        require_member_or_staff(session, actor, group_id, "see this group's enhancements")
        stmt = stmt.where(Enhancement.group_id == group_id)
    return session.scalars(stmt).all()


def enhancements_score(session: Session, actor: Actor, group_id: int) -> tuple[float, str]:
    """The group's enhancements component (percent) and its note, from accepted scores."""
    require_member_or_staff(session, actor, group_id, "see this group's enhancements")
    rows = session.execute(
        select(Assignment.key, Enhancement.score)
        .join(Assignment, Assignment.id == Enhancement.assignment_id)
        .where(Enhancement.group_id == group_id, Enhancement.status == rules.Review.ACCEPTED.value)
    )
    keys = session.scalars(select(Assignment.key).order_by(Assignment.key)).all()
    return rules.enhancements_component(((k, float(s or 0)) for k, s in rows), keys)


# --- research directions ------------------------------------------------------------------


def post_direction(
    session: Session,
    actor: Actor,
    *,
    title: str,
    summary: str,
    released_on: date | None = None,
    clock: Clock,
) -> ResearchDirection:
    """Staff post a direction; it shows on the course site from its release day (the
    "Research directions released" milestone, Jan 22, unless staff say otherwise)."""
    require_staff(actor, "post research directions")
    if released_on is None:
        released_on = milestone_by_key(session, DIRECTIONS_MILESTONE).day
    row = ResearchDirection(
        title=check_title(title),
        summary=check_body(summary, "summary"),
        released_on=released_on,
        posted_at=clock.now(),
        posted_by_id=actor.person_id,
    )
    session.add(row)
    audit.record(session, actor, "direction.post", row, before=None, at=clock.now())
    return row


def released_directions(session: Session, *, clock: Clock) -> Sequence[ResearchDirection]:
    """Directions released by today (what the public course site and students see)."""
    return session.scalars(
        select(ResearchDirection)
        .where(ResearchDirection.released_on <= course_today(session, clock))
        .order_by(ResearchDirection.id)
    ).all()


def list_directions(session: Session, actor: Actor, *, clock: Clock) -> Sequence[ResearchDirection]:
    if actor.is_staff:
        return session.scalars(select(ResearchDirection).order_by(ResearchDirection.id)).all()
    return released_directions(session, clock=clock)


def choose_direction(
    session: Session,
    actor: Actor,
    group_id: int,
    *,
    direction_id: int | None = None,
    own_title: str = "",
    own_summary: str = "",
    clock: Clock,
) -> DirectionChoice:
    """A group picks a released direction or proposes its own; staff then approve it. A new
    pick replaces the old one and waits for approval again."""
    get_group(session, group_id)
    require_member_or_staff(session, actor, group_id, "choose this group's direction")
    if direction_id is not None:
        direction = session.get(ResearchDirection, direction_id)
        if direction is None or (
            direction.released_on > course_today(session, clock) and not actor.is_staff
        ):
            raise NotFound(f"no research direction with id {direction_id}", field="direction")
        own_title = own_summary = ""
    else:
        own_title = check_title(own_title)
        own_summary = check_body(own_summary, "own_summary")
    row = session.scalar(select(DirectionChoice).where(DirectionChoice.group_id == group_id))
    before = audit.snapshot(row)
    if row is None:
        row = DirectionChoice(group_id=group_id, chosen_at=clock.now())
        session.add(row)
    row.direction_id, row.own_title, row.own_summary = direction_id, own_title, own_summary
    row.chosen_at, row.chosen_by_id = clock.now(), actor.person_id
    row.status, row.feedback = rules.Review.PENDING.value, ""
    row.reviewed_at = row.reviewed_by_id = None
    audit.record(session, actor, "direction.choose", row, before=before, at=clock.now())
    return row


def direction_choice(session: Session, actor: Actor, group_id: int) -> DirectionChoice | None:
    require_member_or_staff(session, actor, group_id, "see this group's direction")
    return session.scalar(select(DirectionChoice).where(DirectionChoice.group_id == group_id))


def direction_choices(session: Session, actor: Actor) -> Sequence[DirectionChoice]:
    require_staff(actor, "see every group's direction")
    return session.scalars(select(DirectionChoice).order_by(DirectionChoice.group_id)).all()


def review_direction(
    session: Session,
    actor: Actor,
    group_id: int,
    *,
    decision: str,
    feedback: str = "",
    clock: Clock,
) -> DirectionChoice:
    """Staff approve a group's direction (it becomes the group's project title) or return it."""
    require_staff(actor, "approve research directions")
    row = session.scalar(select(DirectionChoice).where(DirectionChoice.group_id == group_id))
    if row is None:
        raise NotFound("this group has not chosen a direction", field="group")
    outcome = rules.decide(row.status, decision, feedback)
    record_review(session, actor, row, outcome, feedback, action="direction.review", clock=clock)
    if outcome is rules.Review.ACCEPTED:
        group = get_group(session, group_id)
        group_before = audit.snapshot(group)
        group.project_title = row.direction.title if row.direction else row.own_title
        audit.record(
            session, actor, "group.project_title", group, before=group_before, at=clock.now()
        )
    return row


# --- project deliverables -------------------------------------------------------------------


def submit_deliverable(
    session: Session,
    actor: Actor,
    group_id: int,
    *,
    kind: str,
    link: str,
    integrity_statement: str,
    code_link: str = "",
    summary: str = "",
    evidence_kind: str | None = None,
    clock: Clock,
) -> ProjectDeliverable:
    """A group hands in a deliverable (a new version each time) with the statement of
    external code, sources and AI assistance; the milestone's deadline is recorded and a late
    hand-in is flagged for staff. Impact evidence names its kind (merged PR, benchmark,
    report, preprint) and waits for staff verification."""
    get_group(session, group_id)
    require_member_or_staff(session, actor, group_id, "hand in this group's deliverables")
    what = rules.deliverable(kind)
    evidence = None
    if what.key == "impact":
        evidence_value, link = rules.check_impact_link(evidence_kind or "", link)
        evidence = evidence_value.value
    else:
        link = rules.check_link(link)
    if what.needs_code_link:
        code_link = rules.check_link(code_link, "code_link")
    else:
        code_link = ""
    statement = rules.check_statement(integrity_statement, "integrity_statement")
    deadline = milestone_due_at(milestone_by_key(session, what.milestone_key), settings_of(session))
    version = (
        session.scalar(
            select(func.max(ProjectDeliverable.version)).where(
                ProjectDeliverable.group_id == group_id, ProjectDeliverable.kind == what.key
            )
        )
        or 0
    ) + 1
    if (
        version > 1
        and evidence is None
        and any(
            d.status == rules.Review.ACCEPTED
            for d in session.scalars(
                select(ProjectDeliverable).where(
                    ProjectDeliverable.group_id == group_id, ProjectDeliverable.kind == what.key
                )
            )
        )
    ):
        raise Conflict(f"the {what.title.lower()} is already accepted", field="kind")
    row = ProjectDeliverable(
        group_id=group_id,
        kind=what.key,
        version=version,
        link=link,
        code_link=code_link,
        evidence_kind=evidence,
        summary=(summary or "").strip()[:4000],
        integrity_statement=statement,
        submitted_at=clock.now(),
        submitted_by_id=actor.person_id,
        deadline=deadline,
        late=clock.now() > deadline,
        status=rules.Review.PENDING.value,
    )
    session.add(row)
    audit.record(session, actor, "deliverable.submit", row, before=None, at=clock.now())
    return row


def review_deliverable(
    session: Session,
    actor: Actor,
    deliverable_id: int,
    *,
    decision: str,
    feedback: str = "",
    clock: Clock,
) -> ProjectDeliverable:
    """Staff accept (for impact evidence: verify) a deliverable or return it with feedback."""
    require_staff(actor, "review project deliverables")
    row = row_by_id(
        session, ProjectDeliverable, deliverable_id, what="deliverable", field="deliverable"
    )
    record_review(
        session,
        actor,
        row,
        rules.decide(row.status, decision, feedback),
        feedback,
        action="deliverable.review",
        clock=clock,
    )
    return row


def list_deliverables(
    session: Session, actor: Actor, group_id: int | None = None
) -> Sequence[ProjectDeliverable]:
    """A group's deliverables (members and staff) or, for staff, every group's."""
    stmt = select(ProjectDeliverable).order_by(ProjectDeliverable.group_id, ProjectDeliverable.id)
    if group_id is None:
        require_staff(actor, "see every group's deliverables")
    else:
        require_member_or_staff(session, actor, group_id, "see this group's deliverables")
        stmt = stmt.where(ProjectDeliverable.group_id == group_id)
    return session.scalars(stmt).all()
