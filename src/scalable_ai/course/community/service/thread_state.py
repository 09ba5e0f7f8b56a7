"""What changes on a thread besides its text: its search words, its last activity, who
follows it and who has read it since (issue 13, Ed's unread markers and "follow").

Small steps the forum service takes on every post, kept apart so that posting, editing and
reading all use the same ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from scalable_ai.course.community.forum_search import search_text_of
from scalable_ai.course.tables.community import ForumPost, ForumThread
from scalable_ai.course.tables.qa import ForumFollow, ForumRead


def refresh_search_text(session: Session, thread: ForumThread) -> None:
    """The words search finds the thread by: title, body and every answer not deleted."""
    session.flush()
    answers = session.scalars(
        select(ForumPost.body)
        .where(ForumPost.thread_id == thread.id, ForumPost.deleted_at.is_(None))
        .order_by(ForumPost.id)
    ).all()
    thread.search_text = search_text_of(thread.title, thread.body, list(answers))


def touch(thread: ForumThread, at: datetime) -> None:
    """Something new happened in the thread: it is unread again for everyone who read it."""
    thread.activity_at = at
    thread.activity_count = (thread.activity_count or 0) + 1


def follow(session: Session, person_id: int, thread_id: int, at: datetime) -> bool:
    """Follow the thread (no-op when already following); True if a follow was added."""
    exists = session.scalar(
        select(ForumFollow.id).where(
            ForumFollow.person_id == person_id, ForumFollow.thread_id == thread_id
        )
    )
    if exists is not None:
        return False
    session.add(ForumFollow(person_id=person_id, thread_id=thread_id, created_at=at))
    return True


def unfollow(session: Session, person_id: int, thread_id: int) -> None:
    row = session.scalar(
        select(ForumFollow).where(
            ForumFollow.person_id == person_id, ForumFollow.thread_id == thread_id
        )
    )
    if row is not None:
        session.delete(row)


def followers(session: Session, thread_id: int) -> list[int]:
    return list(
        session.scalars(
            select(ForumFollow.person_id)
            .where(ForumFollow.thread_id == thread_id)
            .order_by(ForumFollow.person_id)
        )
    )


def needs_marking(session: Session, person_id: int, thread: ForumThread) -> bool:
    """True when the person has not read the thread since its last activity (a page view
    then writes a read marker; otherwise it stays write-free)."""
    seen = session.scalar(
        select(ForumRead.seen_count).where(
            ForumRead.person_id == person_id, ForumRead.thread_id == thread.id
        )
    )
    return seen is None or seen < thread.activity_count


def mark_read(session: Session, person_id: int, thread: ForumThread, at: datetime) -> None:
    row = session.scalar(
        select(ForumRead).where(ForumRead.person_id == person_id, ForumRead.thread_id == thread.id)
    )
    if row is None:
        session.add(
            ForumRead(
                person_id=person_id,
                thread_id=thread.id,
                read_at=at,
                seen_count=thread.activity_count,
            )
        )
    else:
        row.read_at, row.seen_count = at, max(row.seen_count, thread.activity_count)


def unread_and_followed(
    session: Session, person_id: int | None, threads: Iterable[ForumThread]
) -> tuple[set[int], set[int]]:
    """Of these threads, the ids unread by the person and the ids they follow (two queries
    for a whole page of threads)."""
    rows = {t.id: t for t in threads}
    if person_id is None or not rows:
        return set(), set()
    seen = dict(
        session.execute(
            select(ForumRead.thread_id, ForumRead.seen_count).where(
                ForumRead.person_id == person_id, ForumRead.thread_id.in_(rows)
            )
        ).all()
    )
    unread = {i for i, t in rows.items() if i not in seen or seen[i] < t.activity_count}
    followed = set(
        session.scalars(
            select(ForumFollow.thread_id).where(
                ForumFollow.person_id == person_id, ForumFollow.thread_id.in_(rows)
            )
        )
    )
    return unread, followed
