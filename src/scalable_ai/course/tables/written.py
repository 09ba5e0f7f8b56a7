"""Written answers to an assignment's conceptual questions, and how staff graded them.

The questions and their rubrics live in the kit (``assignments/A4/questions.yaml``); the
database keeps each group's answer with the rubric items applied to it, and staff's changes
to an item's points. A score is always computed from those, never stored apart from them,
so changing an item's points re-scores every answer that uses it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from scalable_ai.course.tables.base import Base


class WrittenAnswer(Base):
    """A group's answer to one question (Markdown with math), and its rubric grading."""

    __tablename__ = "written_answers"
    __table_args__ = (UniqueConstraint("assignment_key", "group_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_key: Mapped[str] = mapped_column(String(16))
    group_id: Mapped[int] = mapped_column(ForeignKey("project_groups.id"), index=True)
    question_id: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    applied_items: Mapped[list[Any]]
    adjustment: Mapped[float] = mapped_column(default=0.0)
    comment: Mapped[str] = mapped_column(Text, default="")
    graded_at: Mapped[datetime | None]
    graded_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    #: A PDF the group handed in with (or instead of) the Markdown: an ``/uploads/`` link.
    pdf_link: Mapped[str | None] = mapped_column(String(512), default=None)


class CheckoffGrade(Base):
    """Staff's grading of one criterion of a group's oral checkoff (the kit's
    ``checkoff.yaml`` has the criteria and their rubrics), filled in at the checkoff slot."""

    __tablename__ = "checkoff_grades"
    __table_args__ = (UniqueConstraint("assignment_key", "group_id", "criterion_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_key: Mapped[str] = mapped_column(String(16))
    group_id: Mapped[int] = mapped_column(ForeignKey("project_groups.id"), index=True)
    criterion_id: Mapped[str] = mapped_column(String(32))
    applied_items: Mapped[list[Any]]
    adjustment: Mapped[float] = mapped_column(default=0.0)
    comment: Mapped[str] = mapped_column(Text, default="")
    graded_at: Mapped[datetime]
    graded_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


class RubricItemPoints(Base):
    """Staff changed a rubric item's points (the kit's ``questions.yaml`` has the original)."""

    __tablename__ = "rubric_item_points"
    __table_args__ = (UniqueConstraint("assignment_key", "question_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_key: Mapped[str] = mapped_column(String(16))
    question_id: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[str] = mapped_column(String(64))
    points: Mapped[float]
