"""The onboarding questionnaire: students answer it; staff define and release it, read the
summary, decide enrollment, finalize, and turn the answers into group proposals to confirm.

Syllabus: "We will release a short onboarding questionnaire in the first lecture (Jan 20).
We will finalize enrollment/compute allocations and related decisions by the end of the
second week (Jan 29)." Rules: ``course.community.service.questionnaire``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy import select

from scalable_ai.course.community.questions import Question, QuestionKind
from scalable_ai.course.community.service import questionnaire as onboarding
from scalable_ai.course.tables import Person
from scalable_ai.course.tables.community import GroupProposalRecord
from scalable_ai.course.web.visit import Visit, checked_form, open_visit

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]


@router.get("/questionnaire")
def questionnaire_page(visit: VisitDep) -> Response:
    me = visit.person()
    actor = visit.actor()
    state = onboarding.questionnaire(visit.db)
    questions = onboarding.questions(visit.db)
    if not me.is_staff:
        mine = onboarding.answers_of(visit.db, actor, me.id)
        return visit.page(
            "community/questionnaire.html",
            title="Onboarding questionnaire",
            active="/questionnaire",
            state=state,
            questions=questions,
            answers=mine.answers if mine else {},
            answered=mine,
        )
    proposals = visit.db.scalars(
        select(GroupProposalRecord).order_by(GroupProposalRecord.id.desc()).limit(3)
    ).all()
    names = dict(visit.db.execute(select(Person.id, Person.name)).all())
    return visit.page(
        "community/questionnaire_staff.html",
        title="Questionnaire",
        active="/questionnaire",
        state=state,
        questions=questions,
        summary=onboarding.staff_summary(visit.db, actor),
        proposals=proposals,
        names=names,
    )


@router.post("/questionnaire/answers")
def answer(visit: VisitDep, form: FormDep) -> Response:
    visit.person()
    keys = [q.key for q in onboarding.questions(visit.db)]
    answers = {k: form[k] for k in keys if k in form}
    return visit.act(
        lambda: onboarding.submit_answers(
            visit.db, visit.actor(), answers, clock=visit.state.clock
        ),
        back="/questionnaire",
        ok="Thank you: your answers are saved. You can change them until enrollment is finalized.",
    )


@router.post("/questionnaire/defaults")
def install_defaults(visit: VisitDep, form: FormDep) -> Response:
    visit.staff()
    return visit.act(
        lambda: onboarding.install_default_questions(
            visit.db, visit.actor(), clock=visit.state.clock
        ),
        back="/questionnaire",
        ok="The syllabus's questions are in place.",
    )


@router.post("/questionnaire/questions")
def define_question(visit: VisitDep, form: FormDep) -> Response:
    visit.staff()
    options = tuple(o.strip() for o in str(form.get("options") or "").splitlines() if o.strip())
    question = Question(
        str(form.get("key") or "").strip(),
        str(form.get("prompt") or ""),
        QuestionKind(str(form.get("kind") or "text")),
        options,
        required=form.get("required") == "on",
        measures_experience=form.get("measures_experience") == "on",
    )
    return visit.act(
        lambda: onboarding.define_question(
            visit.db, visit.actor(), question, clock=visit.state.clock
        ),
        back="/questionnaire",
        ok=f"Question {question.key} saved.",
    )


@router.post("/questionnaire/release")
def release(visit: VisitDep, form: FormDep) -> Response:
    visit.staff()
    return visit.act(
        lambda: onboarding.release(visit.db, visit.actor(), clock=visit.state.clock),
        back="/questionnaire",
        ok="Released: students can answer now.",
    )


@router.post("/questionnaire/enrollment/{person_id}")
def decide(visit: VisitDep, form: FormDep, person_id: int) -> Response:
    visit.staff()
    enrolled = form.get("enrolled") == "yes"
    return visit.act(
        lambda: onboarding.decide_enrollment(
            visit.db,
            visit.actor(),
            person_id,
            enrolled=enrolled,
            note=str(form.get("note") or ""),
            clock=visit.state.clock,
        ),
        back="/questionnaire",
        ok="Enrolled." if enrolled else "Marked not enrolled.",
    )


@router.post("/questionnaire/finalize")
def finalize(visit: VisitDep, form: FormDep) -> Response:
    visit.staff()
    return visit.act(
        lambda: onboarding.finalize_enrollment(visit.db, visit.actor(), clock=visit.state.clock),
        back="/questionnaire",
        ok=_finalized,
        warn=lambda done: done.warnings,
    )


def _finalized(done: onboarding.FinalizedEnrollment) -> str:
    left = "; ".join(f"{r.person.name} left {r.group.name}" for r in done.removed)
    return "Enrollment finalized; answers are closed." + (
        f" Students not enrolled were taken out of their groups: {left}." if left else ""
    )


@router.post("/questionnaire/proposals")
def propose(visit: VisitDep, form: FormDep) -> Response:
    visit.staff()
    raw = str(form.get("seed") or "0").strip()
    seed = int(raw) if raw.isdigit() else 0
    return visit.act(
        lambda: onboarding.propose_groups(
            visit.db, visit.actor(), seed=seed, clock=visit.state.clock
        ),
        back="/questionnaire",
        ok=lambda p: f"Proposal #{p.id}: {len(p.groups)} groups (seed {p.seed}).",
    )


@router.post("/questionnaire/proposals/{proposal_id}/confirm")
def confirm(visit: VisitDep, form: FormDep, proposal_id: int) -> Response:
    visit.staff()
    return visit.act(
        lambda: onboarding.confirm_proposal(
            visit.db, visit.actor(), proposal_id, clock=visit.state.clock
        ),
        back="/questionnaire",
        ok=lambda made: f"{len(made)} groups confirmed, each with its node.",
    )
