"""What students hand in and how it is graded: submissions (with the deadline that applied),
the slack-day ledger, deadline exceptions and scores.

The slack-day ledger has one row per member per assignment: a group's slack day is charged
to every member ("3 total slack days"; "at most one slack day may be applied to any single
assignment"), and the open row per (student, assignment) is unique, so the database itself
refuses a second slack day on one assignment even under concurrent requests.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from scalable_ai.course.tables.base import Base


class Submission(Base):
    """A hand-in of an assignment (by a group) or a milestone, with its integrity statement
    (external code, sources, AI assistance) and the deadline that applied."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"), index=True)
    milestone_id: Mapped[int | None] = mapped_column(ForeignKey("milestones.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("project_groups.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    submitted_at: Mapped[datetime]
    deadline_applied: Mapped[datetime]
    deadline_reason: Mapped[str] = mapped_column(String(300), default="")
    slack_day_used: Mapped[bool] = mapped_column(default=False)
    integrity: Mapped[dict[str, Any]]
    link: Mapped[str | None] = mapped_column(String(1000))
    source: Mapped[str] = mapped_column(String(32), default="platform")


class SlackDayUse(Base):
    """One slack day charged to one student on one assignment; revoked only by staff."""

    __tablename__ = "slack_day_uses"
    __table_args__ = (
        Index(
            "uq_slack_day_uses_open_person_assignment",
            "person_id",
            "assignment_id",
            unique=True,
            sqlite_where=text("revoked_at IS NULL"),
            postgresql_where=text("revoked_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("project_groups.id"))
    submission_id: Mapped[int | None] = mapped_column(ForeignKey("submissions.id"))
    spent_at: Mapped[datetime]
    spent_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    revoked_at: Mapped[datetime | None]
    revoked_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    reason: Mapped[str] = mapped_column(Text, default="")


class DeadlineException(Base):
    """An approved exception: a new deadline for a student or a whole group."""

    __tablename__ = "deadline_exceptions"
    __table_args__ = (
        CheckConstraint("(person_id IS NULL) <> (group_id IS NULL)", name="one_subject"),
        CheckConstraint("(assignment_id IS NULL) <> (milestone_id IS NULL)", name="one_item"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("project_groups.id"), index=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"))
    milestone_id: Mapped[int | None] = mapped_column(ForeignKey("milestones.id"))
    new_deadline: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    approved_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class Score(Base):
    """One graded item for one student, e.g. ``A1.code``, ``project.impact``, ``scribing``."""

    __tablename__ = "scores"
    __table_args__ = (UniqueConstraint("person_id", "item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    item: Mapped[str] = mapped_column(String(64))
    points: Mapped[float]
    max_points: Mapped[float]
    comment: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(32), default="staff")
    graded_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    graded_at: Mapped[datetime]
