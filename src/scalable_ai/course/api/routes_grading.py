"""The autograder's jobs and the rubric grading of written answers.

A group follows its hand-ins' grading (visible tests only) and answers the conceptual
questions; staff see every job's whole results, re-grade an assignment after fixing its
autograder, apply rubric items to answers, change an item's points (re-scoring every answer
that uses it) and follow grading progress per question."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from scalable_ai.course.api.context import SignedIn
from scalable_ai.course.api.schemas import Id
from scalable_ai.course.service import grading_jobs, written_answers

router = APIRouter()


class GradingJobOut(BaseModel):
    id: int
    submission_id: int
    group_id: int | None
    assignment_key: str
    status: str
    attempts: int
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    score: float | None
    max_score: float | None
    error: str
    results: dict[str, Any] | None


def _out(job: Any, call: Any) -> GradingJobOut:
    return GradingJobOut(
        id=job.id,
        submission_id=job.submission_id,
        group_id=job.group_id,
        assignment_key=job.assignment_key,
        status=job.status,
        attempts=job.attempts,
        queued_at=job.queued_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
        score=job.score,
        max_score=job.max_score,
        # A grader's traceback is for staff; a group learns that its job failed.
        error=job.error if call.actor.is_staff else ("grading failed" if job.error else ""),
        results=grading_jobs.visible_results(job, call.actor),
    )


@router.get(
    "/grading-jobs",
    response_model=list[GradingJobOut],
    tags=["grading"],
    summary="Autograder jobs (staff: all; students: their group's, visible tests only)",
)
def list_grading_jobs(
    call: SignedIn,
    group_id: Annotated[Id | None, Query()] = None,
    assignment: Annotated[str | None, Query(max_length=16)] = None,
) -> object:
    jobs = grading_jobs.list_jobs(
        call.session, call.actor, group_id=group_id, assignment=assignment
    )
    return [_out(job, call) for job in jobs]


@router.post(
    "/assignments/{key}/regrade",
    response_model=list[GradingJobOut],
    tags=["grading"],
    summary="Staff: grade every group's latest graded hand-in of an assignment again",
)
def regrade(call: SignedIn, key: Annotated[str, Path(max_length=16)]) -> object:
    jobs = grading_jobs.regrade_assignment(call.session, call.actor, key, clock=call.clock)
    return [_out(job, call) for job in jobs]


class AnswerIn(BaseModel):
    text: str = Field(min_length=1, max_length=written_answers.MAX_ANSWER_CHARS)


class AnswerOut(BaseModel):
    id: int
    assignment_key: str
    group_id: int
    question_id: str
    text: str
    submitted_at: datetime
    applied_items: list[str]
    adjustment: float
    comment: str
    graded_at: datetime | None
    score: float | None


class GradeAnswerIn(BaseModel):
    applied_items: list[Annotated[str, Field(max_length=64)]] = Field(max_length=50)
    adjustment: float = Field(default=0.0, ge=-1000, le=1000)
    comment: str = Field(default="", max_length=5000)


class ItemPointsIn(BaseModel):
    points: float = Field(ge=-1000, le=1000)


def _answer_out(answer: Any, score: float | None) -> AnswerOut:
    return AnswerOut(
        id=answer.id,
        assignment_key=answer.assignment_key,
        group_id=answer.group_id,
        question_id=answer.question_id,
        text=answer.text,
        submitted_at=answer.submitted_at,
        applied_items=list(answer.applied_items),
        adjustment=answer.adjustment,
        comment=answer.comment,
        graded_at=answer.graded_at,
        score=score,
    )


Key = Annotated[str, Path(max_length=16)]
QuestionId = Annotated[str, Path(max_length=32)]


@router.put(
    "/assignments/{key}/answers/{question_id}",
    response_model=AnswerOut,
    tags=["written answers"],
    summary="Your group's answer to one conceptual question (Markdown)",
)
def answer(call: SignedIn, key: Key, question_id: QuestionId, body: AnswerIn) -> object:
    row = written_answers.answer_question(
        call.session, call.actor, assignment=key, question_id=question_id, text=body.text,
        clock=call.clock,
    )  # fmt: skip
    return _answer_out(row, None)


@router.get(
    "/written-answers",
    response_model=list[AnswerOut],
    tags=["written answers"],
    summary="Written answers with their scores (staff: all; students: their group's)",
)
def list_answers(
    call: SignedIn,
    assignment: Annotated[str | None, Query(max_length=16)] = None,
    group_id: Annotated[Id | None, Query()] = None,
) -> object:
    rows = written_answers.list_answers(
        call.session, call.actor, assignment=assignment, group_id=group_id
    )
    return [_answer_out(a, score) for a, score in rows]


@router.post(
    "/written-answers/{answer_id}/grade",
    response_model=AnswerOut,
    tags=["written answers"],
    summary="Staff: apply rubric items (and an adjustment, a comment) to an answer",
)
def grade(call: SignedIn, answer_id: Annotated[Id, Path()], body: GradeAnswerIn) -> object:
    row = written_answers.grade_answer(
        call.session, call.actor, answer_id, applied_items=body.applied_items,
        adjustment=body.adjustment, comment=body.comment, clock=call.clock,
    )  # fmt: skip
    return _answer_out(row, written_answers.answer_score(call.session, row))


@router.patch(
    "/assignments/{key}/rubric/{question_id}/{item_id}",
    response_model=list[int],
    tags=["written answers"],
    summary="Staff: change a rubric item's points; returns the re-scored groups",
)
def change_points(
    call: SignedIn,
    key: Key,
    question_id: QuestionId,
    item_id: Annotated[str, Path(max_length=64)],
    body: ItemPointsIn,
) -> object:
    return written_answers.change_item_points(
        call.session, call.actor, assignment=key, question_id=question_id, item_id=item_id,
        points=body.points, clock=call.clock,
    )  # fmt: skip


@router.get(
    "/assignments/{key}/grading-progress",
    response_model=dict[str, list[int]],
    tags=["written answers"],
    summary="Staff: per question, graded and handed-in answers",
)
def progress(call: SignedIn, key: Key) -> object:
    counts = written_answers.grading_progress(call.session, call.actor, key)
    return {question: list(pair) for question, pair in counts.items()}
