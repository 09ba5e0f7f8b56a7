"""Scores and the final grade.

Staff record scores per student (or for a whole group: each member gets the score); a
student sees only their own. The grade is :func:`scalable_ai.course.policy.grading.
compute_grade` over the stored scores, with the slack-day notes carried into the same report,
so every number a student sees comes with the rule that made it ("slack day 2 of 3 used on
A2", "scribing unsatisfactory: the class is failed whatever the total").

Score items name what :class:`~scalable_ai.course.policy.grading.StudentScores` reads:
``A1.code``, ``A1.written``, ``A1.checkoff``, ``A1.enhancement`` (each assignment),
``project.technical.staff``, ``project.technical.peer``, ``project.impact``,
``enhancements`` (overrides the mean of the assignments' enhancements), ``scribing`` and
``participation``. A score is stored as points out of a maximum; rules read percentages.
The peer part of technical quality comes from the peer reviews of the student's group's
report (``service.peer_feedback``); a recorded ``project.technical.peer`` replaces it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock
from scalable_ai.course.policy import grading as rules
from scalable_ai.course.policy.late import score_after_exception
from scalable_ai.course.policy.settings import CourseSettings
from scalable_ai.course.policy.standing import RunningGrade, running_grade
from scalable_ai.course.service.actors import (
    Actor,
    get_group,
    get_person,
    require_self_or_staff,
    require_staff,
)
from scalable_ai.course.service.course import all_assignments, settings_of
from scalable_ai.course.service.peer_feedback import peer_part_of_grade
from scalable_ai.course.service.slack import slack_balance
from scalable_ai.course.tables import Assignment, Person, Score
from scalable_ai.errors import UserError

ASSIGNMENT_PARTS = ("code", "written", "checkoff", "enhancement")
COURSE_ITEMS = (
    "project.technical.staff",
    "project.technical.peer",
    "project.impact",
    "enhancements",
    "scribing",
    "participation",
)


def score_items(session: Session) -> list[str]:
    """Every item a score may be recorded for, in gradebook order."""
    keys = session.scalars(select(Assignment.key).order_by(Assignment.key)).all()
    return [f"{k}.{part}" for k in keys for part in ASSIGNMENT_PARTS] + list(COURSE_ITEMS)


def _check_item(session: Session, item: str) -> str:
    item = item.strip()
    if item not in score_items(session):
        raise UserError(
            f"unknown score item {item!r}; items are A1.code, A1.written, "
            "A1.checkoff, A1.enhancement (each assignment), " + ", ".join(COURSE_ITEMS),
            field="item",
        )
    return item


def record_score(
    session: Session,
    actor: Actor,
    *,
    person_id: int,
    item: str,
    points: float,
    max_points: float = 100.0,
    comment: str = "",
    source: str = "staff",
    under_exception: bool = False,
    clock: Clock,
) -> Score:
    """Staff record (or change) one student's score. ``under_exception``: a regrade after an
    approved exception, which "never lowers a score already earned"."""
    require_staff(actor, "record scores")
    person = get_person(session, person_id)
    if person.role != "student":
        raise UserError(f"{person.email} is not a student", field="person_id")
    item = _check_item(session, item)
    if not max_points > 0:
        raise UserError("max points must be positive", field="max_points")
    if not 0 <= points <= max_points:
        raise UserError(f"points must be between 0 and {max_points:g}", field="points")
    row = session.scalar(select(Score).where(Score.person_id == person_id, Score.item == item))
    before = audit.snapshot(row)
    under_exception = under_exception or handed_in_under_exception(session, person_id, item)
    if under_exception and row is not None:
        kept = score_after_exception(row.points / row.max_points, points / max_points)
        points = (kept or 0) * max_points
    if row is None:
        row = Score(
            person_id=person_id,
            item=item,
            points=points,
            max_points=max_points,
            comment=comment,
            source=source,
            graded_by_id=actor.person_id,
            graded_at=clock.now(),
        )
        session.add(row)
    else:
        row.points, row.max_points, row.comment, row.source = points, max_points, comment, source
        row.graded_by_id, row.graded_at = actor.person_id, clock.now()
    audit.record(session, actor, "score.record", row, before=before, at=clock.now())
    if before is None or (before["points"], before["max_points"]) != (points, max_points):
        from scalable_ai.course.notify.events import notify

        notify(  # issue 13: "grades released"
            session,
            [person_id],
            kind="grade",
            title=f"New score for {item}: {points:g} / {max_points:g}",
            body=comment,
            link="/grade",
            key=f"grade:{item}",
            renew=True,
            at=clock.now(),
        )
    return row


def handed_in_under_exception(session: Session, person_id: int, item: str) -> bool:
    """Whether the student's (group's) latest hand-in of ``item``'s assignment was accepted
    under an approved exception. Then "an exception never lowers a score already earned"
    applies to this score whichever path writes it (web, API, CLI, Gradescope import):
    the service decides, not the caller (issue 13)."""
    from scalable_ai.course.service.actors import current_group_id
    from scalable_ai.course.service.submissions import latest_submissions

    key = item.split(".", 1)[0]
    assignment = session.scalar(select(Assignment).where(Assignment.key == key))
    if assignment is None:
        return False
    latest = latest_submissions(
        session, group_id=current_group_id(session, person_id), person_id=person_id
    ).get(assignment.id)
    return latest is not None and latest.deadline_reason.startswith("accepted under the exception")


def record_group_score(
    session: Session,
    actor: Actor,
    *,
    group_id: int,
    item: str,
    points: float,
    max_points: float = 100.0,
    comment: str = "",
    clock: Clock,
) -> list[Score]:
    """Assignments are group work: the same score for every current member."""
    require_staff(actor, "record scores")
    group = get_group(session, group_id)
    if not group.members:
        raise UserError(f"group {group.name} has no members", field="group_id")
    return [
        record_score(
            session,
            actor,
            person_id=p.id,
            item=item,
            points=points,
            max_points=max_points,
            comment=comment,
            clock=clock,
        )
        for p in group.members
    ]


def scores_of(session: Session, actor: Actor, person_id: int) -> Sequence[Score]:
    """One student's recorded scores (yourself, or staff)."""
    get_person(session, person_id)
    require_self_or_staff(actor, person_id, "see scores")
    return session.scalars(
        select(Score).where(Score.person_id == person_id).order_by(Score.item)
    ).all()


def student_scores(session: Session, person_id: int, *, clock: Clock) -> rules.StudentScores:
    """The policy's view of a student's scores, as percentages. The peer part of technical
    quality is the reviews of the student's group's report
    (:func:`~scalable_ai.course.service.peer_feedback.peer_part_of_grade`) unless staff
    recorded a ``project.technical.peer`` score, which replaces it."""
    return _scores_and_peer(session, person_id, clock=clock, settings=settings_of(session))[0]


# Built once: the dashboard computes a running grade on every load.
_PERSON_SCORES = select(Score).where(Score.person_id == bindparam("person_id"))


def _recorded_percent(session: Session, person_id: int) -> dict[str, float]:
    return {
        s.item: 100.0 * s.points / s.max_points
        for s in session.scalars(_PERSON_SCORES, {"person_id": person_id})
    }


def _scores_and_peer(
    session: Session,
    person_id: int,
    *,
    clock: Clock,
    settings: CourseSettings,
    percent: dict[str, float] | None = None,
) -> tuple[rules.StudentScores, str | None]:
    if percent is None:
        percent = _recorded_percent(session, person_id)
    keys = [a.key for a in all_assignments(session)]
    peer = peer_part_of_grade(session, person_id, clock=clock, settings=settings)
    recorded_peer = percent.get("project.technical.peer")
    peer_score, peer_note = peer.score, peer.note
    if recorded_peer is not None:
        peer_score = recorded_peer
        peer_note = (
            "peer review: the peer score staff recorded "
            f"({recorded_peer:.1f}) is used instead of the reviews"
        )
    return rules.StudentScores(
        assignments=tuple(
            rules.AssignmentParts(k, *(percent.get(f"{k}.{part}") for part in ASSIGNMENT_PARTS))
            for k in keys
        ),
        project_technical_staff=percent.get("project.technical.staff"),
        project_technical_peer=peer_score,
        project_impact=percent.get("project.impact"),
        enhancements=percent.get("enhancements"),
        scribing=percent.get("scribing"),
        participation=percent.get("participation"),
    ), peer_note


def student_report(
    session: Session, person_id: int, *, clock: Clock, notes: Sequence[str] = ()
) -> rules.GradeReport:
    """A student's end-of-term grade report (a missing score counts as 0) from the stored
    scores and the peer reviews, carrying ``notes`` (the slack-day notes) and the note
    saying where the peer part came from. No permission check: callers check."""
    settings = settings_of(session)
    scores, peer_note = _scores_and_peer(session, person_id, clock=clock, settings=settings)
    keys = [a.assignment for a in scores.assignments]
    extra = [*notes, *([peer_note] if peer_note else [])]
    return rules.compute_grade(scores, settings, assignment_keys=keys, extra_notes=extra)


def check_what_if(session: Session, what_if: Mapping[str, float]) -> dict[str, float]:
    """Hypothetical percentages for score items (Canvas's what-if): each a known item and a
    percentage in [0, 100]. Nothing is stored."""
    known = set(score_items(session))
    for item, value in what_if.items():
        if item not in known:
            raise UserError(f"what-if: unknown score item {item!r}", field="what_if")
        if not 0 <= value <= 100:
            raise UserError(
                f"what-if for {item}: a percentage between 0 and 100, got {value:g}",
                field="what_if",
            )
    return dict(what_if)


def student_running(
    session: Session,
    person_id: int,
    *,
    clock: Clock,
    notes: Sequence[str] = (),
    what_if: Mapping[str, float] | None = None,
) -> RunningGrade:
    """The running grade (``policy.standing``): pending work is pending, never 0.

    Participation flows in from the participation ledger while staff have not recorded a
    ``participation`` score (the live score, marked provisional with a note saying so);
    ``what_if`` fills items with hypothetical percentages. No permission check: callers
    check."""
    from scalable_ai.course.community.service.participation import ledger_summary

    settings = settings_of(session)
    percent = _recorded_percent(session, person_id)
    extra = list(notes)
    provisional: list[str] = []
    if "participation" not in percent and "participation" not in (what_if or {}):
        live = ledger_summary(session, person_id, clock=clock)
        percent["participation"] = live.score
        provisional.append("participation")
        extra.append(
            f"participation {live.score:.1f} read live from the participation "
            f"ledger ({live.note}); staff have not written it to the grade book, "
            "so it is provisional"
        )
    percent.update(what_if or {})
    scores, peer_note = _scores_and_peer(
        session, person_id, clock=clock, settings=settings, percent=percent
    )
    keys = [a.assignment for a in scores.assignments]
    extra += [peer_note] if peer_note else []
    return running_grade(
        scores,
        settings,
        assignment_keys=keys,
        provisional=provisional,
        extra_notes=extra,
        what_if=bool(what_if),
    )


@dataclass(frozen=True)
class StudentGrade:
    """A student's grade: the end-of-term report (total, letter, pass, per-component
    results, notes) and the running grade (pending work, standing, projection)."""

    person: Person
    report: rules.GradeReport
    running: RunningGrade | None = None


def grade_of(
    session: Session,
    actor: Actor,
    person_id: int,
    *,
    clock: Clock,
    what_if: Mapping[str, float] | None = None,
) -> StudentGrade:
    """The student's grade with its explanation (yourself, or staff)."""
    person = get_person(session, person_id)
    require_self_or_staff(actor, person_id, "see grades")
    if person.role != "student":
        raise UserError(f"{person.email} is not a student", field="person_id")
    notes = slack_balance(session, actor, person_id).notes
    running = student_running(
        session, person_id, clock=clock, notes=notes, what_if=check_what_if(session, what_if or {})
    )
    return StudentGrade(person=person, report=running.final, running=running)


def gradebook(session: Session, actor: Actor, *, clock: Clock) -> list[StudentGrade]:
    """Every student's grade (staff)."""
    require_staff(actor, "see the grade book")
    students = session.scalars(
        select(Person)
        .where(Person.role == "student", Person.active)
        .order_by(Person.name, Person.id)
    ).all()
    return [grade_of(session, actor, p.id, clock=clock) for p in students]
