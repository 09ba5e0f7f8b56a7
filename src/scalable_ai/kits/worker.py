"""The grading worker: claims queued grading jobs, grades each in the sandbox, and writes the
result back to the course database. ``sai up`` starts one as its own process
(``python -m scalable_ai.kits.worker``); more may run side by side (each claim is one
transaction, and no group ever has two jobs running).

Grading happens outside any transaction: a claim is a short write, then minutes of grading
with no lock held, then a short write of the result.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import sys
import threading
import traceback
from pathlib import Path

from sqlalchemy.engine import Engine

from scalable_ai.course.clock import Clock
from scalable_ai.course.db import unit_of_work
from scalable_ai.course.service import grading_jobs as jobs
from scalable_ai.course.tables import GradingJob, Submission
from scalable_ai.errors import UserError


def _claim(engine: Engine, worker: str, clock: Clock) -> tuple[int, str, str] | None:
    with unit_of_work(engine, write=True) as session:
        job = jobs.claim_next_job(session, worker=worker, clock=clock)
        if job is None:
            return None
        submission = session.get(Submission, job.submission_id)
        return job.id, job.assignment_key, (submission.link if submission else "") or ""


def run_once(engine: Engine, data_dir: Path, clock: Clock, worker: str = "") -> int | None:
    """Grade one job if one can be claimed; returns its id (None when there was none)."""
    from scalable_ai.kits.grade import grade_submission
    from scalable_ai.kits.kit import load_kit

    worker = worker or f"{socket.gethostname()}:{os.getpid()}"
    claimed = _claim(engine, worker, clock)
    if claimed is None:
        return None
    job_id, key, link = claimed
    source = jobs.upload_path(link, data_dir)
    if not source.is_file():
        with unit_of_work(engine, write=True) as session:
            job = session.get(GradingJob, job_id)
            if job is not None and jobs.waited_too_long(job, clock):
                jobs.fail_job(session, job_id, f"the hand-in's file {link} is missing", retry=False, clock=clock)  # fmt: skip
            else:  # the web page writes the file just after the hand-in's transaction
                jobs.release_job(session, job_id)
        return job_id
    try:
        results = grade_submission(load_kit(key), str(source)).as_json()
    except UserError as exc:  # the hand-in cannot be read (not a zip, too large): final
        with unit_of_work(engine, write=True) as session:
            jobs.fail_job(session, job_id, str(exc), retry=False, clock=clock)
        return job_id
    except Exception:  # the grader broke: try again later
        with unit_of_work(engine, write=True) as session:
            jobs.fail_job(session, job_id, traceback.format_exc(), retry=True, clock=clock)
        return job_id
    with unit_of_work(engine, write=True) as session:
        jobs.finish_job(session, job_id, results, clock=clock)
    return job_id


def work(
    engine: Engine,
    data_dir: Path,
    clock: Clock,
    *,
    poll_s: float = 2.0,
    stop: threading.Event | None = None,
) -> None:
    """Grade jobs until ``stop`` is set: one at a time, polling when the queue is empty."""
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            claimed = run_once(engine, data_dir, clock)
        except Exception as exc:  # the database is away or not migrated yet: wait, retry
            print(f"grading worker: {type(exc).__name__}: {exc}".splitlines()[0], file=sys.stderr)
            claimed = None
        if claimed is None:
            stop.wait(poll_s)


def _die_with_parent() -> threading.Event:
    """Stop when ``sai up`` stops, however it stops: Linux sends SIGTERM on the parent's
    death (``PR_SET_PDEATHSIG``), and a watcher catches a parent that died before that (it
    may die while this process is still importing: ``SAI_WORKER_PARENT`` names it)."""
    from scalable_ai.settings import get_settings

    parent = get_settings().worker_parent or os.getppid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(1.0):
            if os.getppid() != parent:
                stop.set()

    threading.Thread(target=watch, daemon=True).start()
    return stop


def main() -> None:
    """The process ``sai up`` starts: the course database and clock from the environment."""
    from scalable_ai.course.clock import clock_from_env
    from scalable_ai.course.db import make_engine
    from scalable_ai.settings import get_settings

    settings = get_settings()
    clock = clock_from_env()
    engine = make_engine(settings.database_url)
    try:
        work(engine, settings.data_dir, clock, stop=_die_with_parent())
    except KeyboardInterrupt:
        pass
    finally:
        engine.dispose()


if __name__ == "__main__":
    main()
