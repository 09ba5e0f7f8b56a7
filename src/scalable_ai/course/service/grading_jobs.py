"""The autograder's queue: a hand-in of a kit assignment queues a grading job; a worker
claims jobs (never two of one group at once), grades them in the sandbox outside any web
request, and the code score lands in the grade book with an audit entry.

Which hand-ins are graded: an assignment whose key names a kit (``assignments/A4``) handed
in as a file the platform keeps (``/uploads/<sha256>/<name>``, a zip of the filled-in
starter). A hand-in by link only is stored as before and graded by staff.

Retries: a job whose grading broke (the grader itself, not the submission's code) goes back
to the queue until it has run ``MAX_ATTEMPTS`` times. Whatever the submission's code does is
a result, not a failure: it is in the job's ``results``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, or_, select
from sqlalchemy.orm import Session

from scalable_ai.course.clock import Clock
from scalable_ai.course.links import is_upload_link
from scalable_ai.course.service.actors import Actor, current_group_id, require_staff
from scalable_ai.course.service.grades import record_score
from scalable_ai.course.tables import Assignment, GradingJob, Group, Submission
from scalable_ai.errors import Forbidden, NotFound

MAX_ATTEMPTS = 3
#: How long a job may wait for its hand-in's file to be written before it fails.
UPLOAD_GRACE = timedelta(minutes=10)
AUTOGRADER = Actor(person_id=None, role="staff", label="autograder")


def graded_kits() -> set[str]:
    from scalable_ai.kits.kit import list_kits

    return set(list_kits())


def queue_grading(session: Session, submission: Submission, *, clock: Clock) -> GradingJob | None:
    """Queue a job for ``submission`` when it is a kit assignment handed in as a file."""
    if submission.assignment_id is None or not submission.link:
        return None
    if not is_upload_link(submission.link):
        return None
    assignment = session.get(Assignment, submission.assignment_id)
    if assignment is None or assignment.key not in graded_kits():
        return None
    job = GradingJob(
        submission_id=submission.id,
        group_id=submission.group_id,
        assignment_key=assignment.key,
        status="queued",
        attempts=0,
        queued_at=clock.now(),
        worker="",
        error="",
    )
    session.add(job)
    session.flush()
    return job


def upload_path(link: str, data_dir: Path) -> Path:
    """Where the platform keeps the file of an ``/uploads/<sha256>/<name>`` link."""
    _, _, digest, name = link.split("/", 3)
    return data_dir / "uploads" / digest / name


def claim_next_job(session: Session, *, worker: str, clock: Clock) -> GradingJob | None:
    """The oldest queued job of a group with no job running, now marked running.

    Call inside a write transaction (``unit_of_work(..., write=True)``): on SQLite that
    holds the database's write lock, on PostgreSQL ``FOR UPDATE SKIP LOCKED`` lets several
    workers claim different jobs at once."""
    busy = select(GradingJob.group_id).where(
        GradingJob.status == "running", GradingJob.group_id.is_not(None)
    )
    query = (
        select(GradingJob)
        .where(
            GradingJob.status == "queued",
            or_(GradingJob.group_id.is_(None), GradingJob.group_id.not_in(busy)),
        )
        .order_by(GradingJob.queued_at, GradingJob.id)
        .limit(1)
    )
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    job = session.scalar(query)
    if job is None:
        return None
    job.status, job.worker, job.started_at = "running", worker, clock.now()
    job.attempts += 1
    session.flush()
    return job


def release_job(session: Session, job_id: int) -> None:
    """Put a claimed job back, as if never started (its file is not written yet)."""
    job = session.get(GradingJob, job_id)
    if job is not None and job.status == "running":
        job.status, job.worker, job.started_at = "queued", "", None
        job.attempts -= 1


def fail_job(session: Session, job_id: int, error: str, *, retry: bool, clock: Clock) -> GradingJob:
    """The grading broke: back to the queue while attempts remain (``retry``), else failed."""
    job = session.get(GradingJob, job_id)
    if job is None:
        raise NotFound(f"no grading job {job_id}", field="job")
    job.error = error[:4000]
    if retry and job.attempts < MAX_ATTEMPTS:
        job.status, job.worker, job.started_at = "queued", "", None
    else:
        job.status, job.finished_at = "failed", clock.now()
    return job


def finish_job(
    session: Session, job_id: int, results: dict[str, Any], *, clock: Clock
) -> GradingJob:
    """Store the results and record the code score (``A4.code``) for every group member,
    each change written to the audit log with the score before and after."""
    job = session.get(GradingJob, job_id)
    if job is None:
        raise NotFound(f"no grading job {job_id}", field="job")
    tests = results.get("tests", [])
    max_score = float(sum(t.get("max_score", 0) for t in tests))
    score = float(results.get("score", sum(t.get("score", 0) for t in tests)))
    job.status, job.finished_at, job.error = "done", clock.now(), ""
    job.results, job.score, job.max_score = results, score, max_score
    group = session.get(Group, job.group_id) if job.group_id is not None else None
    members = group.members if group is not None else []
    for person in members:
        if person.role != "student":
            continue
        record_score(
            session,
            AUTOGRADER,
            person_id=person.id,
            item=f"{job.assignment_key}.code",
            points=min(score, max_score),
            max_points=max_score or 1.0,
            comment=f"autograder: {score:g} / {max_score:g} (grading job {job.id})",
            source="autograder",
            clock=clock,
        )
    return job


def regrade_assignment(
    session: Session, actor: Actor, assignment_key: str, *, clock: Clock
) -> list[GradingJob]:
    """Staff, after fixing the autograder: queue every group's latest graded hand-in again
    (the old and new scores both stay in the audit log)."""
    require_staff(actor, "re-grade an assignment")
    if session.scalar(select(Assignment).where(Assignment.key == assignment_key)) is None:
        raise NotFound(f"no assignment {assignment_key!r}", field="assignment")
    latest: dict[int | None, int] = {}
    rows = session.execute(
        select(GradingJob.group_id, GradingJob.submission_id)
        .where(GradingJob.assignment_key == assignment_key)
        .order_by(GradingJob.submission_id)
    ).all()
    for group_id, submission_id in rows:
        latest[group_id] = submission_id
    jobs = []
    for group_id, submission_id in latest.items():
        job = GradingJob(
            submission_id=submission_id,
            group_id=group_id,
            assignment_key=assignment_key,
            status="queued",
            attempts=0,
            queued_at=clock.now(),
            worker="",
            error="",
        )
        session.add(job)
        jobs.append(job)
    session.flush()
    return jobs


def visible_results(job: GradingJob, actor: Actor) -> dict[str, Any] | None:
    """Staff see everything; a student sees the visible tests and the overall note."""
    if job.results is None or actor.is_staff:
        return job.results
    tests = [t for t in job.results.get("tests", []) if t.get("visibility") == "visible"]
    return {"score": job.score, "output": job.results.get("output", ""), "tests": tests}


_GROUP_JOBS_OF = (
    select(GradingJob)
    .where(
        GradingJob.group_id == bindparam("group_id"),
        GradingJob.assignment_key == bindparam("assignment"),
    )
    .order_by(GradingJob.id.desc())
)


def list_jobs(
    session: Session,
    actor: Actor,
    *,
    group_id: int | None = None,
    assignment: str | None = None,
) -> Sequence[GradingJob]:
    """Grading jobs, newest first: staff see every group's (or one's), a student only their
    own group's (asking for another group's is refused)."""
    if not actor.is_staff:
        mine = current_group_id(session, actor.person_id) if actor.person_id else None
        if group_id is not None and group_id != mine:
            raise Forbidden("only the group's members and staff may see its grading")
        if mine is None:
            return []
        if assignment is not None:
            # a student's assignment page, on every load: a statement built once
            return session.scalars(
                _GROUP_JOBS_OF, {"group_id": mine, "assignment": assignment}
            ).all()
        group_id = mine
    query = select(GradingJob).order_by(GradingJob.id.desc())
    if group_id is not None:
        query = query.where(GradingJob.group_id == group_id)
    if assignment is not None:
        query = query.where(GradingJob.assignment_key == assignment)
    return session.scalars(query).all()


def waited_too_long(job: GradingJob, clock: Clock) -> bool:
    return clock.now() - job.queued_at > UPLOAD_GRACE
