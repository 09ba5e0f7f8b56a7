"""Q&A, announcements and infrastructure tickets: the course's single channel ("Ed only").

Threads are questions (optionally private to staff, optionally anonymous to classmates),
announcements (staff; shown on every dashboard) or infrastructure tickets (the syllabus's
required details plus the node, with a status). Answers may be endorsed by staff. What a
reader sees is built here, per viewer (:func:`thread_view`), so the API and the pages show
the same thing and neither can leak a private thread or an anonymous author.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, lazyload

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock
from scalable_ai.course.community.forum_rules import (
    TicketDetails,
    TicketStatus,
    Viewer,
    can_see_thread,
    check_body,
    check_category,
    check_ticket,
    check_title,
    move_ticket,
    shown_author,
)
from scalable_ai.course.community.forum_search import search_text_of
from scalable_ai.course.community.markdown import excerpt, render_markdown
from scalable_ai.course.community.service import thread_state
from scalable_ai.course.notify.events import everyone, notify
from scalable_ai.course.service.actors import Actor, acting_person, require_staff
from scalable_ai.course.service.course import lecture_by_key, node_by_id, row_by_id
from scalable_ai.course.tables import Node
from scalable_ai.course.tables.community import ForumPost, ForumThread, InfraTicket
from scalable_ai.errors import Forbidden, NotFound, UserError


def viewer(actor: Actor) -> Viewer:
    return Viewer(actor.person_id, actor.is_staff)


def _visible(query: Select, actor: Actor) -> Select:
    if actor.is_staff:
        return query
    return query.where(
        or_(ForumThread.private.is_(False), ForumThread.author_id == actor.person_id)
    )


def get_thread(session: Session, actor: Actor, thread_id: int) -> ForumThread:
    """The thread, if the actor may see it (a private thread of someone else reads as absent)."""
    thread = session.get(ForumThread, thread_id)
    if (
        thread is None
        or (thread.deleted_at is not None and not actor.is_staff)
        or not can_see_thread(viewer(actor), author_id=thread.author_id, private=thread.private)
    ):
        raise NotFound(f"no thread with id {thread_id}", field="thread")
    return thread


def post_question(
    session: Session,
    actor: Actor,
    *,
    category: str,
    title: str,
    body: str,
    anonymous: bool = False,
    private: bool = False,
    lecture_key: str | None = None,
    clock: Clock,
) -> ForumThread:
    """Ask a question: ``private`` shows it to staff only, ``anonymous`` hides the author from
    classmates (never from staff)."""
    me = acting_person(session, actor)
    category = check_category(category)
    if category == "infrastructure":
        raise UserError(
            "infrastructure problems are filed as tickets (node, time, job IDs, logs, repro)",
            field="category",
        )
    lecture = lecture_by_key(session, lecture_key) if lecture_key else None
    thread = ForumThread(
        category=category,
        title=check_title(title),
        body=check_body(body),
        author_id=me.id,
        anonymous=anonymous and not me.is_staff,
        private=private,
        lecture_id=lecture.id if lecture else None,
        created_at=clock.now(),
    )
    _started(session, thread, me.id, clock.now())
    audit.record(session, actor, "forum.question", thread, before=None, at=clock.now())
    return thread


def _started(session: Session, thread: ForumThread, author_id: int | None, at: datetime) -> None:
    """A new thread: indexed for search, followed and read by its author."""
    thread.activity_at, thread.activity_count = at, 1
    thread.search_text = search_text_of(thread.title, thread.body, [])
    session.add(thread)
    session.flush()
    if author_id is not None:
        thread_state.follow(session, author_id, thread.id, at)
        thread_state.mark_read(session, author_id, thread, at)


def post_announcement(
    session: Session,
    actor: Actor,
    *,
    title: str,
    body: str,
    category: str = "project",
    clock: Clock,
) -> ForumThread:
    """Staff announce ("We answer, announce, and archive on Ed only"); shown on dashboards."""
    require_staff(actor, "post announcements")
    thread = ForumThread(
        category=check_category(category),
        title=check_title(title),
        body=check_body(body),
        author_id=actor.person_id,
        announcement=True,
        created_at=clock.now(),
    )
    _started(session, thread, actor.person_id, clock.now())
    audit.record(session, actor, "forum.announce", thread, before=None, at=clock.now())
    notify(
        session,
        everyone(session, but=actor.person_id),
        kind="announcement",
        title=f"Announcement: {thread.title}",
        body=excerpt(thread.body),
        link=f"/qa/{thread.id}",
        at=clock.now(),
    )
    return thread


def file_ticket(
    session: Session,
    actor: Actor,
    *,
    title: str,
    node_id: int,
    occurred_at: datetime,
    job_ids: str,
    logs: str,
    repro: str,
    body: str = "",
    clock: Clock,
) -> ForumThread:
    """An infrastructure ticket: "include timestamps, job IDs, logs, and a short repro
    description", and the node it concerns; it starts ``open``."""
    me = acting_person(session, actor)
    node = node_by_id(session, node_id)
    details = check_ticket(
        TicketDetails(node.name, occurred_at, job_ids, logs, repro), now=clock.now()
    )
    thread = ForumThread(
        category="infrastructure",
        title=check_title(title),
        body=(body or "").strip() or details.repro,
        author_id=me.id,
        created_at=clock.now(),
    )
    _started(session, thread, me.id, clock.now())
    ticket = InfraTicket(
        thread_id=thread.id,
        node_id=node.id,
        occurred_at=details.occurred_at,
        job_ids=details.job_ids,
        logs=details.logs,
        repro=details.repro,
        status=TicketStatus.OPEN.value,
        status_changed_at=clock.now(),
        status_changed_by_id=me.id,
    )
    session.add(ticket)
    audit.record(session, actor, "ticket.file", ticket, before=None, at=clock.now())
    session.refresh(thread)
    return thread


def set_ticket_status(
    session: Session, actor: Actor, thread_id: int, status: str, *, clock: Clock
) -> InfraTicket:
    """Staff move a ticket: open → acknowledged → resolved (or reopen it)."""
    require_staff(actor, "change a ticket's status")
    thread = get_thread(session, actor, thread_id)
    if thread.ticket is None:
        raise UserError("this thread is not an infrastructure ticket", field="thread")
    ticket = thread.ticket
    before = audit.snapshot(ticket)
    ticket.status = move_ticket(ticket.status, status).value
    ticket.status_changed_at, ticket.status_changed_by_id = clock.now(), actor.person_id
    audit.record(session, actor, "ticket.status", ticket, before=before, at=clock.now())
    return ticket


def answer(
    session: Session,
    actor: Actor,
    thread_id: int,
    *,
    body: str,
    anonymous: bool = False,
    clock: Clock,
) -> ForumPost:
    """Answer or follow up in a thread the actor can see (announcements take no answers)."""
    author_id = (
        None if actor.is_staff and actor.person_id is None else acting_person(session, actor).id
    )  # the local staff tool answers as "Course staff"
    thread = get_thread(session, actor, thread_id)
    if thread.announcement and not actor.is_staff:
        raise Forbidden("announcements take no answers; ask in a new thread")
    post = ForumPost(
        thread_id=thread.id,
        body=check_body(body),
        author_id=author_id,
        anonymous=anonymous and not actor.is_staff,
        created_at=clock.now(),
    )
    session.add(post)
    audit.record(session, actor, "forum.answer", post, before=None, at=clock.now())
    session.flush()
    session.expire(thread, ["posts"])
    thread_state.touch(thread, clock.now())
    thread_state.refresh_search_text(session, thread)
    if author_id is not None:  # Ed: answering a thread follows it
        thread_state.follow(session, author_id, thread.id, clock.now())
        thread_state.mark_read(session, author_id, thread, clock.now())
    notify(  # the followers hear of it (never the anonymous author's name)
        session,
        [p for p in thread_state.followers(session, thread.id) if p != author_id],
        kind="answer",
        title=f"New answer in “{thread.title}”",
        body=excerpt(post.body),
        link=f"/qa/{thread.id}#post-{post.id}",
        at=clock.now(),
    )
    return post


def endorse(
    session: Session, actor: Actor, post_id: int, *, endorsed: bool = True, clock: Clock
) -> ForumPost:
    """Staff endorse an answer (or take the endorsement back)."""
    require_staff(actor, "endorse answers")
    post = row_by_id(session, ForumPost, post_id, what="answer", field="post")
    before = audit.snapshot(post)
    post.endorsed_at = clock.now() if endorsed else None
    post.endorsed_by_id = actor.person_id if endorsed else None
    audit.record(session, actor, "forum.endorse", post, before=before, at=clock.now())
    return post


def threads_about_lecture(session: Session, actor: Actor, lecture_id: int) -> Sequence[ForumThread]:
    """Questions asked about one lecture that the actor may see (for its notes page)."""
    stmt = (
        _visible(select(ForumThread), actor)
        .where(ForumThread.lecture_id == lecture_id)
        .order_by(ForumThread.id)
    )
    return session.scalars(stmt).unique().all()


def announcements(session: Session, actor: Actor, *, limit: int = 5) -> Sequence[ForumThread]:
    """The newest announcements, with their answers (the Q&A page, the API)."""
    return session.scalars(_newest_announcements(limit)).unique().all()


@dataclass(frozen=True)
class AnnouncementCard:
    """What the dashboard's announcement card shows of one announcement."""

    id: int
    title: str
    created_at: datetime
    excerpt: str


def announcement_cards(
    session: Session, actor: Actor, *, now: datetime, shown: int
) -> list[AnnouncementCard]:
    """The newest ``shown`` announcements already posted by ``now`` (the course clock) that
    ``actor`` may see, newest first, for every dashboard: titles and excerpts, their answers
    left unread."""
    threads = session.scalars(_newest_announcements(shown * 2, with_answers=False)).all()
    posted = [
        t
        for t in threads
        if t.created_at <= now
        and can_see_thread(viewer(actor), author_id=t.author_id, private=t.private)
    ]
    posted.sort(key=lambda t: (t.created_at, t.id), reverse=True)
    return [AnnouncementCard(t.id, t.title, t.created_at, excerpt(t.body)) for t in posted[:shown]]


@functools.lru_cache(maxsize=8)
def _newest_announcements(limit: int, with_answers: bool = True) -> Select[ForumThread]:
    """Built once per limit: every dashboard reads the announcements."""
    query = (
        select(ForumThread)
        .where(ForumThread.announcement.is_(True), ForumThread.deleted_at.is_(None))
        .order_by(ForumThread.id.desc())
        .limit(limit)
    )
    return query if with_answers else query.options(lazyload(ForumThread.posts))


def open_tickets_by_node(session: Session, actor: Actor) -> dict[str, list[ForumThread]]:
    """Every node's tickets not yet resolved (the node board), private ones only for staff."""
    nodes = session.scalars(select(Node).order_by(Node.id)).all()
    board: dict[str, list[ForumThread]] = {n.name: [] for n in nodes}
    stmt = (
        _visible(select(ForumThread).join(InfraTicket), actor)
        .where(InfraTicket.status != TicketStatus.RESOLVED.value)
        .order_by(ForumThread.id)
    )
    for thread in session.scalars(stmt).unique():
        assert thread.ticket is not None
        board.setdefault(thread.ticket.node.name, []).append(thread)
    return board


# --- what a reader sees -----------------------------------------------------------------


@dataclass(frozen=True)
class PostView:
    id: int
    author: str
    body_html: str
    created_at: datetime
    endorsed: bool
    by_staff: bool
    edited: bool = False
    deleted: bool = False
    mine: bool = False


@dataclass(frozen=True)
class ThreadView:
    id: int
    category: str
    title: str
    author: str
    body_html: str
    excerpt: str
    created_at: datetime
    private: bool
    anonymous: bool
    announcement: bool
    answered_by_staff: bool
    endorsed_answer: bool
    ticket: dict[str, object] | None
    posts: list[PostView]
    resolved: bool = False
    edited: bool = False
    deleted: bool = False
    mine: bool = False
    answers: int = 0
    unread: bool = False
    following: bool = False


def _author(actor: Actor, person_id: int | None, person, anonymous: bool) -> str:
    name = person.name if person is not None else "Course staff"
    return shown_author(viewer(actor), author_id=person_id, author_name=name, anonymous=anonymous)


def _mine(actor: Actor, author_id: int | None) -> bool:
    return author_id is not None and author_id == actor.person_id


def thread_view(
    actor: Actor,
    thread: ForumThread,
    *,
    with_posts: bool = True,
    unread: bool = False,
    following: bool = False,
) -> ThreadView:
    """The thread as ``actor`` may see it: names hidden where anonymous, Markdown rendered
    safely; a deleted answer shows to staff only (marked), never its text to classmates."""
    if not can_see_thread(viewer(actor), author_id=thread.author_id, private=thread.private):
        raise NotFound(f"no thread with id {thread.id}", field="thread")
    posts = (
        [
            PostView(
                p.id,
                _author(actor, p.author_id, p.author, p.anonymous),
                render_markdown(p.body),
                p.created_at,
                p.endorsed_at is not None,
                p.author is None or p.author.is_staff,
                p.edited_at is not None,
                p.deleted_at is not None,
                _mine(actor, p.author_id),
            )
            for p in thread.posts
            if p.deleted_at is None or actor.is_staff
        ]
        if with_posts
        else []
    )
    live = [p for p in thread.posts if p.deleted_at is None]
    ticket = None
    if thread.ticket is not None:
        t = thread.ticket
        ticket = {
            "node": t.node.name,
            "node_id": t.node_id,
            "occurred_at": t.occurred_at,
            "job_ids": t.job_ids,
            "logs": t.logs,
            "repro": t.repro,
            "status": t.status,
        }
    return ThreadView(
        thread.id,
        thread.category,
        thread.title,
        _author(actor, thread.author_id, thread.author, thread.anonymous),
        render_markdown(thread.body),
        excerpt(thread.body),
        thread.created_at,
        thread.private,
        thread.anonymous,
        thread.announcement,
        any(p.author is None or p.author.is_staff for p in live),
        any(p.endorsed_at is not None for p in live),
        ticket,
        posts,
        resolved=thread.resolved_at is not None,
        edited=thread.edited_at is not None,
        deleted=thread.deleted_at is not None,
        mine=_mine(actor, thread.author_id),
        answers=len(live),
        unread=unread,
        following=following,
    )
