"""The JSON API of Q&A at Ed's level (issue 13), beside the thread routes of
:mod:`scalable_ai.course.community.api`: the board with its filters, search and pages; editing
and deleting one's own posts (staff: any) with the earlier versions for staff; resolving,
following, and marking a thread read.

Each route is one :mod:`~scalable_ai.course.community.service.qa_board` use case in the
caller's unit of work, so the rules (whose post, who resolves, who reads the history, what a
student may see) are the pages' own.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from scalable_ai.course.api.context import Call, SignedIn
from scalable_ai.course.api.schemas import Id, ShortText
from scalable_ai.course.community.api_schemas import Body, Category, PostMadeOut, ThreadOut
from scalable_ai.course.community.service import forum, qa_board
from scalable_ai.course.service.actors import acting_person

router = APIRouter(tags=["q&a"])
PathId = Annotated[Id, Path()]
Show = Literal["", "unread", "unanswered", "answered", "unresolved", "resolved", "following"]


class BoardOut(BaseModel):
    """One page of the board: ``threads`` (without their answers), this ``page`` of
    ``pages``, and how many threads match in all."""

    threads: list[ThreadOut]
    page: int
    pages: int
    total: int


class ThreadEditIn(BaseModel):
    title: ShortText
    body: Body


class PostEditIn(BaseModel):
    body: Body


class ResolvedIn(BaseModel):
    resolved: bool = True


class FollowingIn(BaseModel):
    following: bool = True


class ThreadStateOut(BaseModel):
    """Where the caller stands with a thread after the change."""

    thread_id: int
    resolved: bool
    following: bool
    unread: bool


class RevisionOut(BaseModel):
    """An earlier version of the thread (``post_id`` null) or of one of its answers."""

    post_id: int | None
    action: Literal["edit", "delete"]
    title: str | None
    body: str
    replaced_at: datetime
    replaced_by: str


def _state(call: Call, thread_id: int) -> ThreadStateOut:
    thread = forum.get_thread(call.session, call.actor, thread_id)
    view = qa_board.thread_for(call.session, call.actor, thread)
    return ThreadStateOut(
        thread_id=thread.id, resolved=view.resolved, following=view.following, unread=view.unread
    )


class BoardQuery(BaseModel):
    """What the Q&A page's board takes: a category, search words, one of its filters
    (``show``: :data:`~scalable_ai.course.community.service.qa_board.FILTERS`) and a page."""

    category: Category | None = None
    q: str | None = Field(None, max_length=200)
    show: Show = ""
    page: int = Field(1, ge=1, le=100_000)
    per_page: int = Field(qa_board.PER_PAGE, ge=1, le=100)


def _board(call: Call, asked: BoardQuery) -> qa_board.BoardPage:
    return qa_board.board(
        call.session, call.actor, category=asked.category, query=asked.q, show=asked.show,
        page=asked.page, per_page=asked.per_page,
    )  # fmt: skip


@router.get(
    "/threads",
    response_model=list[ThreadOut],
    summary="The board's threads you may see (as on the Q&A page): newest activity first "
    "(best match first with q), 20 a page, show= one of its filters; the total in "
    "X-Total-Count, the next and previous pages in Link",
    responses={
        200: {
            "headers": {
                "X-Total-Count": {"description": "threads matching", "schema": {"type": "integer"}},
                "Link": {
                    "description": 'rel="next"/"prev" page URLs',
                    "schema": {"type": "string"},
                },
            }
        }
    },
)
def list_threads(
    call: SignedIn, request: Request, response: Response, asked: Annotated[BoardQuery, Query()]
) -> object:
    found = _board(call, asked)
    response.headers["X-Total-Count"] = str(found.total)
    links = [
        f'<{request.url.include_query_params(page=n)}>; rel="{rel}"'
        for n, rel in ((found.page + 1, "next"), (found.page - 1, "prev"))
        if 1 <= n <= found.pages
    ]
    if links:
        response.headers["Link"] = ", ".join(links)
    # FastAPI turns the ThreadView dataclasses into ThreadOut (the board leaves out answers).
    return found.threads


@router.get(
    "/board",
    response_model=BoardOut,
    summary="The Q&A board as one object: the threads of GET /threads with this page, the "
    "number of pages and the total",
)
def board(call: SignedIn, asked: Annotated[BoardQuery, Query()]) -> object:
    found = _board(call, asked)
    return {
        "threads": found.threads,
        "page": found.page,
        "pages": found.pages,
        "total": found.total,
    }


@router.patch(
    "/threads/{thread_id}",
    response_model=ThreadOut,
    summary="Edit a question's title and text (its author, or staff); the old text is kept",
)
def edit_thread(call: SignedIn, thread_id: PathId, body: ThreadEditIn) -> object:
    thread = qa_board.edit_thread(
        call.session, call.actor, thread_id, title=body.title, body=body.body, clock=call.clock
    )
    call.session.flush()
    return qa_board.thread_for(call.session, call.actor, thread)


@router.delete(
    "/threads/{thread_id}",
    status_code=204,
    summary="Delete a question (its author, or staff): gone from the board, kept for staff",
)
def delete_thread(call: SignedIn, thread_id: PathId) -> Response:
    qa_board.delete_thread(call.session, call.actor, thread_id, clock=call.clock)
    return Response(status_code=204)


@router.patch(
    "/posts/{post_id}",
    response_model=PostMadeOut,
    summary="Edit an answer (its author, or staff); the old text is kept",
)
def edit_post(call: SignedIn, post_id: PathId, body: PostEditIn) -> object:
    return qa_board.edit_post(call.session, call.actor, post_id, body=body.body, clock=call.clock)


@router.delete(
    "/posts/{post_id}",
    status_code=204,
    summary="Delete an answer (its author, or staff): gone from the thread, kept for staff",
)
def delete_post(call: SignedIn, post_id: PathId) -> Response:
    qa_board.delete_post(call.session, call.actor, post_id, clock=call.clock)
    return Response(status_code=204)


@router.put(
    "/threads/{thread_id}/resolved",
    response_model=ThreadStateOut,
    summary="Mark a question resolved or not (the asker, or staff)",
)
def resolve(call: SignedIn, thread_id: PathId, body: ResolvedIn) -> object:
    qa_board.set_resolved(
        call.session, call.actor, thread_id, resolved=body.resolved, clock=call.clock
    )
    call.session.flush()
    return _state(call, thread_id)


@router.put(
    "/threads/{thread_id}/following",
    response_model=ThreadStateOut,
    summary="Follow a thread (its answers reach your notifications) or stop following it",
)
def follow(call: SignedIn, thread_id: PathId, body: FollowingIn) -> object:
    qa_board.set_following(
        call.session, call.actor, thread_id, following=body.following, clock=call.clock
    )
    call.session.flush()
    return _state(call, thread_id)


@router.post(
    "/threads/{thread_id}/read",
    response_model=ThreadStateOut,
    summary="Mark a thread read up to its newest post (as opening its page does)",
)
def mark_read(call: SignedIn, thread_id: PathId) -> object:
    acting_person(call.session, call.actor)
    thread = forum.get_thread(call.session, call.actor, thread_id)
    qa_board.opened(call.session, call.actor, thread, clock=call.clock)
    call.session.flush()
    return _state(call, thread_id)


@router.get(
    "/threads/{thread_id}/history",
    response_model=list[RevisionOut],
    summary="Every earlier version of a thread and its answers, oldest first (staff)",
)
def history(
    call: SignedIn,
    thread_id: PathId,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> object:
    return [
        RevisionOut(
            post_id=r.post_id,
            action=r.action,  # type: ignore[arg-type]
            title=r.title,
            body=r.body,
            replaced_at=r.replaced_at,  # type: ignore[arg-type]
            replaced_by=r.replaced_by,
        )
        for r in qa_board.history(call.session, call.actor, thread_id)[:limit]
    ]
