"""Grading jobs: one row per hand-in of a kit assignment that the autograder must grade.

A hand-in queues a job in the same transaction that stores it; a worker process
(``scalable_ai.kits.worker``, started by ``sai up``) claims jobs one at a time, grades them
outside any web request, and writes the result back: the job's status, its Gradescope
``results.json``, and the code score in the grade book.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from scalable_ai.course.tables.base import Base

#: queued -> running -> done | failed (a run that broke goes back to queued until retries end)
JOB_STATUSES = ("queued", "running", "done", "failed")


class GradingJob(Base):
    """The autograder's work item for one submission."""

    __tablename__ = "grading_jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("project_groups.id"), index=True)
    assignment_key: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(default=0)
    queued_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    worker: Mapped[str] = mapped_column(String(64), default="")
    score: Mapped[float | None]
    max_score: Mapped[float | None]
    results: Mapped[dict[str, Any] | None]
    error: Mapped[str] = mapped_column(Text, default="")
