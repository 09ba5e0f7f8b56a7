"""Syllabus: "We will release a short onboarding questionnaire in the first lecture (Jan 20).
We will finalize enrollment/compute allocations and related decisions by ... Jan 29" — and
staff propose groups of 4–6 from the answers, then confirm them (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from scalable_ai.course import audit
from scalable_ai.course.community.questions import DEFAULT_QUESTIONS
from scalable_ai.course.community.service import questionnaire as q
from scalable_ai.course.service import Actor
from scalable_ai.course.service.actors import current_group_id
from scalable_ai.course.tables import AuditEntry
from scalable_ai.errors import Conflict, Forbidden, UserError

GPU = DEFAULT_QUESTIONS[1].options
TIME = DEFAULT_QUESTIONS[3].options


def _answers(level: int, teammates: str = "", time: int = 0) -> dict:
    return {
        "background": "EECS PhD",
        "gpu_experience": GPU[level],
        "preferred_teammates": teammates,
        "time_commitments": TIME[time],
    }


@pytest.fixture
def released(session, staff, clock):
    q.install_default_questions(session, staff, clock=clock)
    q.release(session, staff, clock=clock)


def test_a_student_cannot_answer_before_the_questionnaire_is_released(
    session, staff, clock, enroll
):
    q.install_default_questions(session, staff, clock=clock)
    (ada,) = enroll(1)
    with pytest.raises(Conflict):
        q.submit_answers(session, Actor.of(ada), _answers(1), clock=clock)


def test_students_answer_and_staff_see_the_summary_with_flags(
    session, staff, clock, enroll, released
):
    ada, bob, cy = enroll(3)
    q.submit_answers(session, Actor.of(ada), _answers(3), clock=clock)
    q.submit_answers(session, Actor.of(bob), _answers(0, time=2), clock=clock)
    summary = q.staff_summary(session, staff)
    gpu = next(s for s in summary.questions if s.question.key == "gpu_experience")
    assert dict(gpu.option_counts)[GPU[3]] == 1
    flagged = {r.person.id: r.flags for r in summary.respondents}
    assert flagged[bob.id] and not flagged[ada.id]
    assert cy.id in {p.id for p in summary.missing}


def test_answers_are_audited(session, staff, clock, enroll, released):
    (ada,) = enroll(1)
    q.submit_answers(session, Actor.of(ada), _answers(1), clock=clock)
    assert session.scalar(select(AuditEntry).where(AuditEntry.action == "questionnaire.answer"))


def test_a_student_cannot_read_another_students_answers(session, staff, clock, enroll, released):
    ada, bob = enroll(2)
    q.submit_answers(session, Actor.of(ada), _answers(1), clock=clock)
    with pytest.raises(Forbidden):
        q.answers_of(session, Actor.of(bob), ada.id)
    with pytest.raises(Forbidden):
        q.staff_summary(session, Actor.of(bob))
    assert q.answers_of(session, staff, ada.id).answers["gpu_experience"] == GPU[1]


def test_a_bad_answer_is_refused_naming_the_question(session, staff, clock, enroll, released):
    (ada,) = enroll(1)
    with pytest.raises(UserError) as refused:
        q.submit_answers(
            session, Actor.of(ada), {**_answers(1), "gpu_experience": "lots"}, clock=clock
        )
    assert refused.value.field == "answers.gpu_experience"


def test_finalizing_enrollment_closes_the_answers(session, staff, clock, enroll, released):
    ada, bob = enroll(2)
    q.submit_answers(session, Actor.of(ada), _answers(1), clock=clock)
    q.decide_enrollment(session, staff, bob.id, enrolled=False, note="did not answer", clock=clock)
    q.finalize_enrollment(session, staff, clock=clock)
    decisions = {
        r.person.id: r.decision.enrolled for r in q.staff_summary(session, staff).respondents
    }
    assert decisions[ada.id] is True
    with pytest.raises(Conflict):
        q.submit_answers(session, Actor.of(ada), _answers(2), clock=clock)


def test_finalizing_enrollment_makes_students_not_enrolled_inactive_and_audits_it(
    session, staff, clock, enroll, released
):
    ada, bob = enroll(2)
    q.submit_answers(session, Actor.of(ada), _answers(1), clock=clock)
    q.decide_enrollment(
        session, staff, bob.id, enrolled=False, note="dropped the class", clock=clock
    )
    assert bob.active
    q.finalize_enrollment(session, staff, clock=clock)
    assert ada.active and not bob.active
    (entry,) = audit.entries(session, action_prefix="enrollment.deactivate")
    assert entry.entity_id == str(bob.id)
    assert (entry.before["active"], entry.after["active"]) == (True, False)


def test_staff_propose_groups_from_the_answers_and_confirm_them(
    session, staff, clock, enroll, released
):
    students = enroll(10)
    first, second = students[0], students[1]
    for i, person in enumerate(students):
        teammates = {0: second.email, 1: first.email}.get(i, "")
        q.submit_answers(session, Actor.of(person), _answers(i % 4, teammates), clock=clock)
    proposal = q.propose_groups(session, staff, seed=7, clock=clock)
    assert sorted(len(g) for g in proposal.groups) == [5, 5]
    assert (proposal.honoured_requests, proposal.requests_made) == (2, 2)
    again = q.propose_groups(session, staff, seed=7, clock=clock)
    assert again.groups == proposal.groups
    groups = q.confirm_proposal(session, staff, proposal.id, clock=clock)
    assert all(g.confirmed_at is not None and g.node_id is not None for g in groups)
    assert current_group_id(session, first.id) == current_group_id(session, second.id)
    with pytest.raises(Conflict):
        q.confirm_proposal(session, staff, proposal.id, clock=clock)


def test_only_staff_propose_groups(session, clock, enroll, released):
    (ada,) = enroll(1)
    with pytest.raises(Forbidden):
        q.propose_groups(session, Actor.of(ada), clock=clock)
