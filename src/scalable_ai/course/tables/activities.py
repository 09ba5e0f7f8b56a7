"""Scribing, peer review and sign-up slots (assignment checkoffs, midterm check-ins, the two
presentation sessions)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scalable_ai.course.tables.base import Base
from scalable_ai.course.tables.syllabus import Lecture


class ScribeAssignment(Base):
    """A student scribing a lecture ("each student is expected to scribe 2 lectures")."""

    __tablename__ = "scribe_assignments"
    __table_args__ = (UniqueConstraint("lecture_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lectures.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    assigned_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    satisfactory: Mapped[bool | None]

    lecture: Mapped[Lecture] = relationship(lazy="joined")

    @property
    def lecture_key(self) -> str:
        """The lecture's key ("L9"), what a scribe move names."""
        return self.lecture.key


class PeerReviewAssignment(Base):
    """Group ``reviewer`` reviews group ``reviewed``'s draft report (never its own)."""

    __tablename__ = "peer_review_assignments"
    __table_args__ = (UniqueConstraint("reviewer_group_id", "reviewed_group_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    reviewer_group_id: Mapped[int] = mapped_column(ForeignKey("project_groups.id"), index=True)
    reviewed_group_id: Mapped[int] = mapped_column(ForeignKey("project_groups.id"), index=True)
    due_at: Mapped[datetime]
    assigned_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]


class SignupSlot(Base):
    """A time slot groups sign up for: ``checkoff`` (per assignment), ``midterm``, ``presentation``."""

    __tablename__ = "signup_slots"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    assignment_id: Mapped[int | None] = mapped_column(ForeignKey("assignments.id"))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    capacity: Mapped[int] = mapped_column(default=1)
    session: Mapped[str | None] = mapped_column(String(16))
    location: Mapped[str] = mapped_column(String(200), default="")


class SlotSignup(Base):
    """A group's place in a slot; one per group per assignment checkoff or event."""

    __tablename__ = "slot_signups"
    __table_args__ = (UniqueConstraint("slot_id", "group_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("signup_slots.id"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("project_groups.id"), index=True)
    signed_up_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime]
