"""The syllabus as rows: the course and its settings, assignments, milestones, lectures and
the node pool. ``sai course init --from spring2026.yaml`` fills these from the course spec;
staff may later move or retitle a lecture (its calendar UID stays, its SEQUENCE rises).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from scalable_ai.course.tables.base import Base


class CourseRecord(Base):
    """The one course this database holds: names, resources, settings and the loaded spec."""

    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(300))
    term: Mapped[str] = mapped_column(String(64))
    timezone: Mapped[str] = mapped_column(String(64), default="America/Los_Angeles")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    spec: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime]


class Assignment(Base):
    """One of the five group assignments (A1-A5) with its release and due dates; the due
    instant is the due date at the course deadline time (``policy.late.deadline_at``)."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    released_on: Mapped[date]
    due_on: Mapped[date]
    sequence: Mapped[int] = mapped_column(default=0)


class Milestone(Base):
    """A dated milestone (hypothesis, proposal, draft, peer review, poster session, ...)."""

    __tablename__ = "milestones"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(16), default="deadline")
    day: Mapped[date]
    last_day: Mapped[date | None]
    notes: Mapped[str] = mapped_column(Text, default="")
    submit_via: Mapped[str] = mapped_column(String(100), default="")
    project: Mapped[bool] = mapped_column(default=True)
    schedule_title_override: Mapped[str] = mapped_column(String(300), default="")
    sequence: Mapped[int] = mapped_column(default=0)


class Lecture(Base):
    """A lecture on a Tuesday or Thursday, in one of the six parts. ``key`` ("L1") is its
    stable identity (and calendar UID); ``number`` its position, which moves may change."""

    __tablename__ = "lectures"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(16), unique=True)
    number: Mapped[int]
    held_on: Mapped[date]
    title: Mapped[str] = mapped_column(String(300))
    part: Mapped[int]
    guest: Mapped[bool] = mapped_column(default=False)
    guest_note: Mapped[str] = mapped_column(String(300), default="")
    sequence: Mapped[int] = mapped_column(default=0)


class Node(Base):
    """One 8xH100 node on GCP with its static external IP."""

    __tablename__ = "nodes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    external_ip: Mapped[str] = mapped_column(String(64), unique=True)
    gpus: Mapped[int] = mapped_column(default=8)
    # node health (issue 13): staff mark a node down with the reason; no new reservations
    down_since: Mapped[datetime | None]
    down_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
