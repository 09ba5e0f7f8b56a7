"""The onboarding questionnaire: staff define and release it, students answer, staff read the
summary, decide enrollment, and turn the answers into group proposals they confirm.

Syllabus: questionnaire "released in the first lecture (Jan 20)"; "We will finalize
enrollment/compute allocations and related decisions by the end of the second week (Jan 29)".
Confirming a proposal goes through the core group service (``propose_group`` and
``confirm_group``), so each confirmed group gets its node as any other group does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock
from scalable_ai.course.community import grouping
from scalable_ai.course.community.questions import (
    DEFAULT_QUESTIONS,
    Question,
    QuestionKind,
    QuestionSummary,
    check_question,
    clean_answers,
    experience_level,
    flags,
    requested_teammates,
    summarize,
)
from scalable_ai.course.service.actors import (
    Actor,
    acting_person,
    current_group_id,
    get_person,
    require_self_or_staff,
    require_staff,
)
from scalable_ai.course.service.course import row_by_id, settings_of
from scalable_ai.course.tables import Group, Person
from scalable_ai.course.tables.community import (
    EnrollmentDecision,
    GroupProposalRecord,
    Questionnaire,
    QuestionnaireQuestion,
    QuestionnaireResponse,
)
from scalable_ai.errors import Conflict, Forbidden, NotFound, UserError


def questionnaire(session: Session) -> Questionnaire:
    """The course's questionnaire row (made on first use, unreleased)."""
    row = session.scalar(select(Questionnaire).order_by(Questionnaire.id).limit(1))
    if row is None:
        row = Questionnaire(title="Onboarding questionnaire")
        session.add(row)
        session.flush()
    return row


def _as_question(row: QuestionnaireQuestion) -> Question:
    return Question(
        row.key,
        row.prompt,
        QuestionKind(row.kind),
        tuple(row.options),
        row.required,
        row.measures_experience,
        tuple(row.flagged_options),
    )


def questions(session: Session) -> list[Question]:
    """The questions in order (anyone signed in may read them)."""
    rows = session.scalars(
        select(QuestionnaireQuestion).order_by(
            QuestionnaireQuestion.position, QuestionnaireQuestion.id
        )
    )
    return [_as_question(r) for r in rows]


def define_question(
    session: Session, actor: Actor, question: Question, *, clock: Clock
) -> QuestionnaireQuestion:
    """Add a question or replace the one with the same key (staff; before finalizing)."""
    require_staff(actor, "define questionnaire questions")
    if questionnaire(session).finalized_at is not None:
        raise Conflict("the questionnaire is finalized", field="questionnaire")
    q = check_question(question)
    row = session.scalar(select(QuestionnaireQuestion).where(QuestionnaireQuestion.key == q.key))
    before = audit.snapshot(row)
    if row is None:
        last = session.scalar(select(func.max(QuestionnaireQuestion.position))) or 0
        row = QuestionnaireQuestion(key=q.key, position=last + 1)
        session.add(row)
    row.prompt, row.kind, row.options = q.prompt, q.kind.value, list(q.options)
    row.required, row.measures_experience = q.required, q.measures_experience
    row.flagged_options = list(q.flagged_options)
    audit.record(session, actor, "questionnaire.question", row, before=before, at=clock.now())
    return row


def remove_question(session: Session, actor: Actor, key: str, *, clock: Clock) -> None:
    require_staff(actor, "remove questionnaire questions")
    row = session.scalar(select(QuestionnaireQuestion).where(QuestionnaireQuestion.key == key))
    if row is None:
        raise NotFound(f"no question {key!r}", field="key")
    if questionnaire(session).released_at is not None:
        raise Conflict(
            "the questionnaire is released; questions can be edited, not removed", field="key"
        )
    audit.record(
        session,
        actor,
        "questionnaire.question.remove",
        row,
        before=audit.snapshot(row),
        after=None,
        at=clock.now(),
    )
    session.delete(row)


def install_default_questions(session: Session, actor: Actor, *, clock: Clock) -> None:
    """The syllabus's questions: background, GPU experience, teammates, time commitments."""
    for q in DEFAULT_QUESTIONS:
        define_question(session, actor, q, clock=clock)


def release(session: Session, actor: Actor, *, clock: Clock) -> Questionnaire:
    """Open the questionnaire to students ("released in the first lecture")."""
    require_staff(actor, "release the questionnaire")
    row = questionnaire(session)
    if not questions(session):
        raise UserError("define at least one question first", field="questions")
    if row.released_at is None:
        before = audit.snapshot(row)
        row.released_at = clock.now()
        audit.record(session, actor, "questionnaire.release", row, before=before, at=clock.now())
    return row


def submit_answers(
    session: Session, actor: Actor, answers: Mapping[str, Any], *, clock: Clock
) -> QuestionnaireResponse:
    """A student answers (or changes their answers) while the questionnaire is open."""
    me = acting_person(session, actor)
    if me.role != "student":
        raise Forbidden("only students answer the questionnaire")
    q = questionnaire(session)
    if q.released_at is None:
        raise Conflict("the questionnaire is not released yet", field="questionnaire")
    if q.finalized_at is not None:
        raise Conflict("enrollment is finalized; answers are closed", field="questionnaire")
    cleaned = clean_answers(questions(session), answers)
    row = session.scalar(
        select(QuestionnaireResponse).where(QuestionnaireResponse.person_id == me.id)
    )
    before = audit.snapshot(row)
    if row is None:
        row = QuestionnaireResponse(person_id=me.id, submitted_at=clock.now())
        session.add(row)
    row.answers = cleaned
    row.updated_at = clock.now()
    audit.record(session, actor, "questionnaire.answer", row, before=before, at=clock.now())
    return row


def answers_of(session: Session, actor: Actor, person_id: int) -> QuestionnaireResponse | None:
    """A student's own answers; staff may read anyone's."""
    require_self_or_staff(actor, person_id, "read questionnaire answers")
    return session.scalar(
        select(QuestionnaireResponse).where(QuestionnaireResponse.person_id == person_id)
    )


@dataclass(frozen=True)
class Respondent:
    person: Person
    answers: dict[str, Any]
    experience: float
    teammates: list[str]
    flags: list[str]
    decision: EnrollmentDecision | None


@dataclass(frozen=True)
class StaffSummary:
    """What staff read before finalizing: per-question tallies, each respondent with flags,
    and the students who have not answered."""

    questions: list[QuestionSummary]
    respondents: list[Respondent]
    missing: list[Person]
    released_at: Any
    finalized_at: Any


def staff_summary(session: Session, actor: Actor) -> StaffSummary:
    require_staff(actor, "read the questionnaire summary")
    qs = questions(session)
    rows = session.scalars(select(QuestionnaireResponse).order_by(QuestionnaireResponse.id)).all()
    decisions = {d.person_id: d for d in session.scalars(select(EnrollmentDecision))}
    respondents = [
        Respondent(
            r.person,
            r.answers,
            experience_level(qs, r.answers),
            requested_teammates(qs, r.answers),
            flags(qs, r.answers),
            decisions.get(r.person_id),
        )
        for r in rows
    ]
    answered = {r.person_id for r in rows}
    missing = [
        p
        for p in session.scalars(
            select(Person)
            .where(Person.role == "student", Person.active.is_(True))
            .order_by(Person.name)
        )
        if p.id not in answered
    ]
    q = questionnaire(session)
    return StaffSummary(
        summarize(qs, [r.answers for r in rows]),
        respondents,
        missing,
        q.released_at,
        q.finalized_at,
    )


def decide_enrollment(
    session: Session, actor: Actor, person_id: int, *, enrolled: bool, note: str = "", clock: Clock
) -> EnrollmentDecision:
    """Record staff's decision on one student's enrollment (until finalized)."""
    require_staff(actor, "decide enrollment")
    person = get_person(session, person_id)
    if person.role != "student":
        raise UserError(f"{person.email} is not a student", field="person")
    if questionnaire(session).finalized_at is not None:
        raise Conflict("enrollment is already finalized", field="questionnaire")
    row = session.scalar(
        select(EnrollmentDecision).where(EnrollmentDecision.person_id == person_id)
    )
    before = audit.snapshot(row)
    if row is None:
        row = EnrollmentDecision(person_id=person_id, enrolled=enrolled, decided_at=clock.now())
        session.add(row)
    row.enrolled, row.note = enrolled, note.strip()
    row.decided_at, row.decided_by_id = clock.now(), actor.person_id
    audit.record(session, actor, "enrollment.decide", row, before=before, at=clock.now())
    return row


@dataclass(frozen=True)
class RemovedFromGroup:
    """A student who is not enrolled, taken out of the group they were in."""

    person: Person
    group: Group


@dataclass(frozen=True)
class FinalizedEnrollment:
    """What finalizing did beyond closing the answers: who left which group, and the groups
    those removals left under the minimum size (for staff to act on: never dissolved)."""

    questionnaire: Questionnaire
    removed: list[RemovedFromGroup]
    short_groups: list[Group]
    group_size_min: int

    @property
    def warnings(self) -> list[str]:
        return [
            f"{g.name} has {len(g.members)} member(s) after removing students who are "
            f"not enrolled, under the minimum of {self.group_size_min}: move students in "
            "or merge it (it is not dissolved)"
            for g in self.short_groups
        ]


def finalize_enrollment(session: Session, actor: Actor, *, clock: Clock) -> FinalizedEnrollment:
    """Close the questionnaire ("We will finalize enrollment ... by the end of the second
    week"): every respondent without a decision is enrolled; answers lock; every student
    decided not enrolled has their account made inactive (audited), so they no longer sign
    in, get scribe lectures or count in the gradebook, and leaves their group (audited as
    ``group.remove_not_enrolled``; the other members stay). A group left under the minimum
    size ("Groups of 4–6") is reported in ``warnings`` and flagged on the groups page; it is
    not dissolved."""
    from scalable_ai.course.service.groups import remove_not_enrolled

    require_staff(actor, "finalize enrollment")
    q = questionnaire(session)
    if q.finalized_at is not None:
        raise Conflict("enrollment is already finalized", field="questionnaire")
    decided = set(session.scalars(select(EnrollmentDecision.person_id)))
    for row in session.scalars(select(QuestionnaireResponse)):
        if row.person_id not in decided:
            decide_enrollment(
                session,
                actor,
                row.person_id,
                enrolled=True,
                note="answered the questionnaire",
                clock=clock,
            )
    removed: list[RemovedFromGroup] = []
    for person_id in session.scalars(
        select(EnrollmentDecision.person_id)
        .where(EnrollmentDecision.enrolled.is_(False))
        .order_by(EnrollmentDecision.person_id)
    ).all():
        person = get_person(session, person_id)
        if person.active:
            before = audit.snapshot(person)
            person.active = False
            audit.record(
                session, actor, "enrollment.deactivate", person, before=before, at=clock.now()
            )
        group = remove_not_enrolled(session, actor, person_id, clock=clock)
        if group is not None:
            removed.append(RemovedFromGroup(person, group))
    before = audit.snapshot(q)
    q.finalized_at, q.finalized_by_id = clock.now(), actor.person_id
    audit.record(session, actor, "questionnaire.finalize", q, before=before, at=clock.now())
    size_min = settings_of(session).group_size_min
    touched = {r.group.id: r.group for r in removed}
    short = [g for _, g in sorted(touched.items()) if len(g.members) < size_min]
    return FinalizedEnrollment(q, removed, short, size_min)


def propose_groups(
    session: Session, actor: Actor, *, seed: int = 0, clock: Clock
) -> GroupProposalRecord:
    """Groups of 4–6 from the answers of respondents who are enrolled (or not yet decided)
    and in no group yet: balanced on experience, requested teammates kept together where
    they fit, deterministic for the seed (see :mod:`..grouping`)."""
    require_staff(actor, "propose groups")
    settings = settings_of(session)
    qs = questions(session)
    declined = set(
        session.scalars(
            select(EnrollmentDecision.person_id).where(EnrollmentDecision.enrolled.is_(False))
        )
    )
    rows = [
        r
        for r in session.scalars(
            select(QuestionnaireResponse).order_by(QuestionnaireResponse.person_id)
        )
        if r.person_id not in declined
        and r.person.active
        and current_group_id(session, r.person_id) is None
    ]
    if not rows:
        raise UserError("no enrolled respondent is waiting for a group", field="students")
    by_email = {r.person.email: r.person_id for r in rows}
    respondents = [
        grouping.Respondent(
            r.person_id,
            experience_level(qs, r.answers),
            frozenset(by_email[e] for e in requested_teammates(qs, r.answers) if e in by_email),
        )
        for r in rows
    ]
    proposals = grouping.propose_groups(
        respondents, seed=seed, size_min=settings.group_size_min, size_max=settings.group_size_max
    )
    honoured, made = grouping.honoured_requests(proposals, respondents)
    record = GroupProposalRecord(
        seed=seed,
        groups=[list(p.members) for p in proposals],
        honoured_requests=honoured,
        requests_made=made,
        created_at=clock.now(),
        created_by_id=actor.person_id,
    )
    session.add(record)
    audit.record(session, actor, "group_proposal.create", record, before=None, at=clock.now())
    return record


def show_proposal(session: Session, actor: Actor, proposal_id: int) -> GroupProposalRecord:
    require_staff(actor, "see group proposals")
    return row_by_id(
        session, GroupProposalRecord, proposal_id, what="group proposal", field="proposal"
    )


def confirm_proposal(
    session: Session, actor: Actor, proposal_id: int, *, clock: Clock
) -> Sequence[Group]:
    """Make every proposed group through the core group service and confirm it (each gets a
    node; a ninth group is refused and nothing is stored)."""
    from scalable_ai.course.service.groups import confirm_group, propose_group

    record = show_proposal(session, actor, proposal_id)
    if record.confirmed_at is not None:
        raise Conflict("this proposal is already confirmed", field="proposal")
    taken = set(session.scalars(select(Group.name)))
    made = []
    number = 0
    for members in record.groups:
        number += 1
        while f"Group {number:02d}" in taken:
            number += 1
        group = propose_group(
            session, actor, name=f"Group {number:02d}", member_ids=list(members), clock=clock
        )
        made.append(confirm_group(session, actor, group.id, clock=clock))
    before = audit.snapshot(record)
    record.confirmed_at, record.confirmed_by_id = clock.now(), actor.person_id
    audit.record(session, actor, "group_proposal.confirm", record, before=before, at=clock.now())
    return made
