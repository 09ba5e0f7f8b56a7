"""The rest of the course's life as rows: the onboarding questionnaire and group proposals,
Q&A threads and posts with infrastructure tickets, lecture-note comments and scribe notes,
the participation ledger (check-in codes, attendance, staff credits), assignment
enhancements, research directions and project deliverables.

Rules live in :mod:`scalable_ai.course.community`; these are only their storage. Authors
are kept on every post even when it is anonymous to classmates ("visible to staff").
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scalable_ai.course.tables.base import Base
from scalable_ai.course.tables.people import Person
from scalable_ai.course.tables.syllabus import Lecture, Node

# --- onboarding questionnaire --------------------------------------------------------------


class Questionnaire(Base):
    """The course's one onboarding questionnaire: released in the first lecture (Jan 20),
    finalized with the enrollment decisions (Jan 29)."""

    __tablename__ = "questionnaires"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    released_at: Mapped[datetime | None]
    finalized_at: Mapped[datetime | None]
    finalized_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


class QuestionnaireQuestion(Base):
    """A question staff defined; ``kind`` is text, choice or teammates."""

    __tablename__ = "questionnaire_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(48), unique=True)
    position: Mapped[int]
    prompt: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(16))
    options: Mapped[list[Any]] = mapped_column(default=list)
    required: Mapped[bool] = mapped_column(default=True)
    measures_experience: Mapped[bool] = mapped_column(default=False)
    flagged_options: Mapped[list[Any]] = mapped_column(default=list)


class QuestionnaireResponse(Base):
    """A student's answers (one row per student, replaced until enrollment is finalized)."""

    __tablename__ = "questionnaire_responses"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    answers: Mapped[dict[str, Any]] = mapped_column(default=dict)
    submitted_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    person: Mapped[Person] = relationship(lazy="joined")


class EnrollmentDecision(Base):
    """Staff's decision on a student's enrollment, made from the questionnaire by Jan 29."""

    __tablename__ = "enrollment_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    enrolled: Mapped[bool]
    note: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime]
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


class GroupProposalRecord(Base):
    """A grouping staff asked for (``groups``: lists of person ids), kept until confirmed."""

    __tablename__ = "group_proposals"

    id: Mapped[int] = mapped_column(primary_key=True)
    seed: Mapped[int]
    groups: Mapped[list[Any]] = mapped_column(default=list)
    honoured_requests: Mapped[int] = mapped_column(default=0)
    requests_made: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    confirmed_at: Mapped[datetime | None]
    confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


# --- Q&A, announcements, infrastructure tickets ----------------------------------------------


class ForumThread(Base):
    """A question, an announcement or an infrastructure ticket (category ``infrastructure``)."""

    __tablename__ = "forum_threads"

    id: Mapped[int] = mapped_column(primary_key=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    anonymous: Mapped[bool] = mapped_column(default=False)
    private: Mapped[bool] = mapped_column(default=False)
    announcement: Mapped[bool] = mapped_column(default=False, index=True)
    lecture_id: Mapped[int | None] = mapped_column(ForeignKey("lectures.id"))
    created_at: Mapped[datetime] = mapped_column(index=True)
    # Ed's board (issue 13): the newest post or edit (unread markers), resolved by its author
    # or staff (the audit log says who), edited or deleted by its author (earlier versions in
    # ``forum_revisions``), and the words full-text search indexes (title, body, answers).
    activity_at: Mapped[datetime | None] = mapped_column(index=True)
    # counts the thread's new posts (1 for the question): a reader who saw fewer has news,
    # whatever the clock says (a pinned course clock gives every post the same instant)
    activity_count: Mapped[int] = mapped_column(default=0, server_default="0")
    resolved_at: Mapped[datetime | None]
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")

    author: Mapped[Person | None] = relationship(lazy="joined", foreign_keys=[author_id])
    posts: Mapped[list[ForumPost]] = relationship(
        back_populates="thread", lazy="selectin", order_by="ForumPost.id"
    )
    ticket: Mapped[InfraTicket | None] = relationship(back_populates="thread", lazy="joined")


class ForumPost(Base):
    """An answer or follow-up in a thread; staff may endorse it."""

    __tablename__ = "forum_posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("forum_threads.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    anonymous: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime]
    endorsed_at: Mapped[datetime | None]
    endorsed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    edited_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]

    thread: Mapped[ForumThread] = relationship(back_populates="posts")
    author: Mapped[Person | None] = relationship(lazy="joined", foreign_keys=[author_id])


class InfraTicket(Base):
    """The required details of an infrastructure thread and its status."""

    __tablename__ = "infra_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("forum_threads.id"), unique=True)
    node_id: Mapped[int] = mapped_column(ForeignKey("nodes.id"), index=True)
    occurred_at: Mapped[datetime]
    job_ids: Mapped[str] = mapped_column(Text)
    logs: Mapped[str] = mapped_column(Text)
    repro: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    status_changed_at: Mapped[datetime]
    status_changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))

    thread: Mapped[ForumThread] = relationship(back_populates="ticket")
    node: Mapped[Node] = relationship(lazy="joined")


# --- lecture notes: comments and scribe notes -------------------------------------------------


class NoteComment(Base):
    """A constructive comment on a lecture's notes or slides (counts toward participation)."""

    __tablename__ = "note_comments"

    id: Mapped[int] = mapped_column(primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lectures.id"), index=True)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]

    author: Mapped[Person | None] = relationship(lazy="joined")


class ScribeNote(Base):
    """One version of a scribe's notes for an assigned lecture (Markdown text or a PDF), with
    the required statement of sources and AI assistance; staff accept or return it."""

    __tablename__ = "scribe_notes"
    __table_args__ = (UniqueConstraint("lecture_id", "person_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lectures.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    version: Mapped[int]
    format: Mapped[str] = mapped_column(String(16))
    body: Mapped[str] = mapped_column(Text, default="")
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary)
    filename: Mapped[str] = mapped_column(String(200), default="")
    sources_statement: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending")
    feedback: Mapped[str] = mapped_column(Text, default="")
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))

    lecture: Mapped[Lecture] = relationship(lazy="joined")
    person: Mapped[Person] = relationship(lazy="joined", foreign_keys=[person_id])


# --- participation ledger --------------------------------------------------------------------


class LectureCheckIn(Base):
    """The code students enter to check in to a lecture, valid in a window staff open."""

    __tablename__ = "lecture_check_ins"

    id: Mapped[int] = mapped_column(primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lectures.id"), unique=True)
    code: Mapped[str] = mapped_column(String(16))
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


class Attendance(Base):
    """A student present at a lecture: ``source`` is ``check-in`` or ``staff``."""

    __tablename__ = "attendance"
    __table_args__ = (UniqueConstraint("lecture_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lecture_id: Mapped[int] = mapped_column(ForeignKey("lectures.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    source: Mapped[str] = mapped_column(String(16))
    marked_at: Mapped[datetime]
    marked_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


class ParticipationCredit(Base):
    """Credit staff give for in-class discussion, project check-ins or improving notes."""

    __tablename__ = "participation_credits"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    note: Mapped[str] = mapped_column(Text, default="")
    credited_at: Mapped[datetime]
    credited_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


# --- assignment enhancements, research directions, project deliverables ----------------------


class Enhancement(Base):
    """A group's proposed enhancement of an assignment (added questions or a harder
    programmatic part); staff accept it with a score or return it."""

    __tablename__ = "enhancements"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("project_groups.id"), index=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    proposed_at: Mapped[datetime]
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    score: Mapped[float | None]
    feedback: Mapped[str] = mapped_column(Text, default="")
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


class ResearchDirection(Base):
    """A direction staff post on the course site (released Jan 22)."""

    __tablename__ = "research_directions"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    released_on: Mapped[date]
    posted_at: Mapped[datetime]
    posted_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))


class DirectionChoice(Base):
    """A group's pick: a posted direction, or its own (``own_title``); staff approve it."""

    __tablename__ = "direction_choices"

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("project_groups.id"), unique=True)
    direction_id: Mapped[int | None] = mapped_column(ForeignKey("research_directions.id"))
    own_title: Mapped[str] = mapped_column(String(200), default="")
    own_summary: Mapped[str] = mapped_column(Text, default="")
    chosen_at: Mapped[datetime]
    chosen_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    feedback: Mapped[str] = mapped_column(Text, default="")
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))

    direction: Mapped[ResearchDirection | None] = relationship(lazy="joined")


class ProjectDeliverable(Base):
    """One version of a group's project deliverable (hypothesis ... impact evidence), with
    the deadline that applied; staff accept (verify, for impact) or return it."""

    __tablename__ = "project_deliverables"
    __table_args__ = (UniqueConstraint("group_id", "kind", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("project_groups.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    version: Mapped[int]
    link: Mapped[str] = mapped_column(String(1000))
    code_link: Mapped[str] = mapped_column(String(1000), default="")
    evidence_kind: Mapped[str | None] = mapped_column(String(32))
    summary: Mapped[str] = mapped_column(Text, default="")
    integrity_statement: Mapped[str] = mapped_column(Text)
    submitted_at: Mapped[datetime]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    deadline: Mapped[datetime]
    late: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    feedback: Mapped[str] = mapped_column(Text, default="")
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
