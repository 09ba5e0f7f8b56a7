"""Q&A at Ed's level (issue 13): the board with its filters and pages, edits and deletions
of one's own posts (earlier versions kept for staff), resolving a question, following a
thread, and unread markers.

Rules, as Ed has them: the author edits or deletes their own question or answer, staff any
(moderation); every replaced text is kept as a :class:`ForumRevision` that only staff read;
a deleted thread disappears from the board and a deleted answer from the thread (staff still
see it, marked). The asker or staff mark a question resolved. Posting or answering follows a
thread; anyone may follow or unfollow. A thread is unread for a person until they open it
after its newest post.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock
from scalable_ai.course.community.forum_rules import check_body, check_category, check_title
from scalable_ai.course.community.forum_search import search, words_of
from scalable_ai.course.community.service import thread_state
from scalable_ai.course.community.service.forum import ThreadView, get_thread, thread_view
from scalable_ai.course.service.actors import Actor, acting_person, require_staff
from scalable_ai.course.service.course import row_by_id
from scalable_ai.course.tables.community import ForumPost, ForumThread
from scalable_ai.course.tables.qa import ForumFollow, ForumRead, ForumRevision
from scalable_ai.errors import Forbidden, NotFound, UserError

#: The board's filters (``show=``), as Ed names them.
FILTERS: dict[str, str] = {
    "": "every thread",
    "unread": "unread",
    "unanswered": "unanswered",
    "answered": "answered",
    "unresolved": "unresolved",
    "resolved": "resolved",
    "following": "following",
}
PER_PAGE = 20


def _own_or_staff(actor: Actor, author_id: int | None, what: str) -> None:
    if actor.is_staff:
        return
    if author_id is None or author_id != actor.person_id:
        raise Forbidden(f"you may only {what} your own posts")


def edit_thread(
    session: Session, actor: Actor, thread_id: int, *, title: str, body: str, clock: Clock
) -> ForumThread:
    """The author (or staff) rewrites a thread's title and text; the old text is kept."""
    thread = get_thread(session, actor, thread_id)
    _own_or_staff(actor, thread.author_id, "edit")
    title, body = check_title(title), check_body(body)
    if (title, body) == (thread.title, thread.body):
        return thread
    before = audit.snapshot(thread)
    session.add(
        ForumRevision(
            thread_id=thread.id,
            action="edit",
            title=thread.title,
            body=thread.body,
            replaced_at=clock.now(),
            replaced_by_id=actor.person_id,
        )
    )
    thread.title, thread.body, thread.edited_at = title, body, clock.now()
    thread_state.refresh_search_text(session, thread)
    audit.record(session, actor, "forum.edit", thread, before=before, at=clock.now())
    return thread


def edit_post(
    session: Session, actor: Actor, post_id: int, *, body: str, clock: Clock
) -> ForumPost:
    """The author (or staff) rewrites an answer; the old text is kept."""
    post = _post(session, actor, post_id)
    _own_or_staff(actor, post.author_id, "edit")
    body = check_body(body)
    if body == post.body:
        return post
    before = audit.snapshot(post)
    session.add(
        ForumRevision(
            thread_id=post.thread_id,
            post_id=post.id,
            action="edit",
            body=post.body,
            replaced_at=clock.now(),
            replaced_by_id=actor.person_id,
        )
    )
    post.body, post.edited_at = body, clock.now()
    thread_state.refresh_search_text(session, post.thread)
    audit.record(session, actor, "forum.edit", post, before=before, at=clock.now())
    return post


def delete_thread(session: Session, actor: Actor, thread_id: int, *, clock: Clock) -> ForumThread:
    """The author (or staff) deletes a thread: gone from the board, kept for staff."""
    thread = get_thread(session, actor, thread_id)
    _own_or_staff(actor, thread.author_id, "delete")
    before = audit.snapshot(thread)
    session.add(
        ForumRevision(
            thread_id=thread.id,
            action="delete",
            title=thread.title,
            body=thread.body,
            replaced_at=clock.now(),
            replaced_by_id=actor.person_id,
        )
    )
    thread.deleted_at = clock.now()
    audit.record(session, actor, "forum.delete", thread, before=before, at=clock.now())
    return thread


def delete_post(session: Session, actor: Actor, post_id: int, *, clock: Clock) -> ForumPost:
    """The author (or staff) deletes an answer: gone from the thread, kept for staff."""
    post = _post(session, actor, post_id)
    _own_or_staff(actor, post.author_id, "delete")
    before = audit.snapshot(post)
    session.add(
        ForumRevision(
            thread_id=post.thread_id,
            post_id=post.id,
            action="delete",
            body=post.body,
            replaced_at=clock.now(),
            replaced_by_id=actor.person_id,
        )
    )
    post.deleted_at = clock.now()
    session.flush()
    session.expire(post.thread, ["posts"])
    thread_state.refresh_search_text(session, post.thread)
    audit.record(session, actor, "forum.delete", post, before=before, at=clock.now())
    return post


def _post(session: Session, actor: Actor, post_id: int) -> ForumPost:
    post = row_by_id(session, ForumPost, post_id, what="answer", field="post")
    get_thread(session, actor, post.thread_id)  # a post of a thread one cannot see is absent
    if post.deleted_at is not None:
        raise NotFound(f"no answer with id {post_id}", field="post")
    return post


@dataclass(frozen=True)
class RevisionView:
    post_id: int | None
    action: str
    title: str | None
    body: str
    replaced_at: object
    replaced_by: str


def history(session: Session, actor: Actor, thread_id: int) -> list[RevisionView]:
    """Every earlier version of the thread and its answers, oldest first (staff only)."""
    require_staff(actor, "read a thread's edit history")
    get_thread(session, actor, thread_id)
    rows = session.scalars(
        select(ForumRevision).where(ForumRevision.thread_id == thread_id).order_by(ForumRevision.id)
    )
    return [
        RevisionView(
            r.post_id,
            r.action,
            r.title,
            r.body,
            r.replaced_at,
            r.replaced_by.name if r.replaced_by else "Course staff",
        )
        for r in rows
    ]


def set_resolved(
    session: Session, actor: Actor, thread_id: int, *, resolved: bool, clock: Clock
) -> ForumThread:
    """The asker or staff mark a question resolved (or not)."""
    thread = get_thread(session, actor, thread_id)
    _own_or_staff(actor, thread.author_id, "resolve")
    if thread.announcement or thread.ticket is not None:
        raise UserError(
            "only questions are resolved (tickets have their own status)", field="thread"
        )
    before = audit.snapshot(thread)
    thread.resolved_at = clock.now() if resolved else None
    audit.record(session, actor, "forum.resolve", thread, before=before, at=clock.now())
    return thread


def set_following(
    session: Session, actor: Actor, thread_id: int, *, following: bool, clock: Clock
) -> bool:
    """Follow a thread (its answers reach one's notifications) or stop following it."""
    me = acting_person(session, actor)
    get_thread(session, actor, thread_id)
    if following:
        thread_state.follow(session, me.id, thread_id, clock.now())
    else:
        thread_state.unfollow(session, me.id, thread_id)
    return following


def thread_for(session: Session, actor: Actor, thread: ForumThread) -> ThreadView:
    """The thread as the actor sees it on its page and through the API: its answers, and
    whether it is unread by them and followed by them (one source for both)."""
    unread, followed = thread_state.unread_and_followed(session, actor.person_id, [thread])
    return thread_view(actor, thread, unread=thread.id in unread, following=thread.id in followed)


def opened(session: Session, actor: Actor, thread: ForumThread, *, clock: Clock) -> bool:
    """The actor read the thread now; True when a read marker had to be written (the page
    then commits; a thread read before and unchanged writes nothing)."""
    if actor.person_id is None or not thread_state.needs_marking(session, actor.person_id, thread):
        return False
    thread_state.mark_read(session, actor.person_id, thread, clock.now())
    return True


# --- the board -----------------------------------------------------------------------------


@dataclass(frozen=True)
class BoardPage:
    threads: list[ThreadView]
    page: int
    pages: int
    total: int


def board(
    session: Session,
    actor: Actor,
    *,
    category: str | None = None,
    query: str | None = None,
    show: str = "",
    page: int = 1,
    per_page: int = PER_PAGE,
) -> BoardPage:
    """One page of the questions (and tickets) the actor may see, newest activity first (best
    match first when searching), narrowed by ``show`` (:data:`FILTERS`)."""
    if show not in FILTERS:
        raise UserError(f"show must be one of {', '.join(f for f in FILTERS if f)}", field="show")
    if page < 1:
        raise UserError("page numbers start at 1", field="page")
    stmt = select(ForumThread).where(
        ForumThread.deleted_at.is_(None), ForumThread.announcement.is_(False)
    )
    if not actor.is_staff:
        stmt = stmt.where(
            or_(ForumThread.private.is_(False), ForumThread.author_id == actor.person_id)
        )
    if category:
        stmt = stmt.where(ForumThread.category == check_category(category))
    stmt = _narrowed(stmt, actor, show)
    words = words_of((query or "").strip())
    order: list[Any] = [func.coalesce(ForumThread.activity_at, ForumThread.created_at).desc()]
    if words:
        stmt, rank = search(stmt, session.get_bind().dialect.name, words)
        order.insert(0, rank.desc())
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    pages = max(1, -(-total // per_page))
    rows = (
        session.scalars(
            stmt.order_by(*order, ForumThread.id.desc())
            .limit(per_page)
            .offset((min(page, pages) - 1) * per_page)
        )
        .unique()
        .all()
    )
    unread, followed = thread_state.unread_and_followed(session, actor.person_id, rows)
    views = [thread_view(actor, t, unread=t.id in unread, following=t.id in followed) for t in rows]
    return BoardPage(views, min(page, pages), pages, total)


def _narrowed(stmt: Select, actor: Actor, show: str) -> Select:
    answered = exists().where(ForumPost.thread_id == ForumThread.id, ForumPost.deleted_at.is_(None))
    me = actor.person_id
    if show == "unanswered":
        return stmt.where(~answered)
    if show == "answered":
        return stmt.where(answered)
    if show == "resolved":
        return stmt.where(ForumThread.resolved_at.is_not(None))
    if show == "unresolved":
        return stmt.where(
            ForumThread.resolved_at.is_(None), ForumThread.category != "infrastructure"
        )
    if show == "following":
        return stmt.where(
            exists().where(ForumFollow.thread_id == ForumThread.id, ForumFollow.person_id == me)
        )
    if show == "unread":
        read_since = exists().where(
            ForumRead.thread_id == ForumThread.id,
            ForumRead.person_id == me,
            ForumRead.seen_count >= ForumThread.activity_count,
        )
        return stmt.where(and_(~read_since))
    return stmt


def unread_count(session: Session, actor: Actor) -> int:
    """How many threads on the board the actor has not read since their last activity."""
    return board(session, actor, show="unread", per_page=1).total
