"""The autograder's jobs: a group follows its hand-ins' grading (visible tests only); staff
see every job's whole results and re-grade an assignment after fixing its autograder."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel

from scalable_ai.course.api.context import SignedIn
from scalable_ai.course.api.schemas import Id
from scalable_ai.course.service import grading_jobs

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
