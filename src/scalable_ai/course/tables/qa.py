"""What Ed keeps beside a thread (issue 13): earlier versions of edited or deleted posts
(shown to staff), who follows which thread, and when each person last read it (unread
markers). The threads and posts themselves live in :mod:`.community`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scalable_ai.course.tables.base import Base
from scalable_ai.course.tables.people import Person


class ForumRevision(Base):
    """A thread's or answer's text as it was before an edit or a deletion."""

    __tablename__ = "forum_revisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("forum_threads.id"), index=True)
    post_id: Mapped[int | None] = mapped_column(ForeignKey("forum_posts.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))  # "edit" or "delete"
    title: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    replaced_at: Mapped[datetime]
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))

    replaced_by: Mapped[Person | None] = relationship(lazy="joined")


class ForumFollow(Base):
    """A person follows a thread: its answers and comments reach their notifications."""

    __tablename__ = "forum_follows"
    __table_args__ = (UniqueConstraint("person_id", "thread_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("forum_threads.id"), index=True)
    created_at: Mapped[datetime]


class ForumRead(Base):
    """When a person last opened a thread; newer activity makes it unread for them."""

    __tablename__ = "forum_reads"
    __table_args__ = (UniqueConstraint("person_id", "thread_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("forum_threads.id"), index=True)
    read_at: Mapped[datetime]
    seen_count: Mapped[int] = mapped_column(default=0)  # the thread's activity_count then
