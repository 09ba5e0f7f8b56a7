"""Q&A, announcements and infrastructure tickets — the course's single channel.

Syllabus: "All course questions must be posted on Ed ... We answer, announce, and archive on
Ed only"; infrastructure: "include timestamps, job IDs, logs, and a short repro description".
Students ask (privately to staff, or anonymously to classmates), answer and file tickets;
staff answer, endorse, announce and move tickets. Rules: ``course.community.service.forum``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response
from sqlalchemy import select

from scalable_ai.course.clock import parse_instant
from scalable_ai.course.community.forum_rules import CATEGORIES, CATEGORY_LABELS
from scalable_ai.course.community.service import forum, qa_board
from scalable_ai.course.tables import Lecture, Node
from scalable_ai.course.web.visit import Visit, checked_form, open_visit

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]


def _flag(form: dict[str, Any], name: str) -> bool:
    return str(form.get(name) or "") in ("on", "true", "1", "yes")


@router.get("/qa")
def qa_page(
    visit: VisitDep,
    category: Annotated[str, Query(max_length=32)] = "",
    q: Annotated[str, Query(max_length=200)] = "",
    show: Annotated[str, Query(max_length=16)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    visit.person()
    actor = visit.actor()
    # Ed's board (issue 13): filters, pages, unread markers, full-text search
    shown = qa_board.board(
        visit.db,
        actor,
        category=category or None,
        query=q or None,
        show=show if show in qa_board.FILTERS else "",
        page=page,
    )
    notices = [forum.thread_view(actor, t) for t in forum.announcements(visit.db, actor)]
    lectures = visit.db.scalars(select(Lecture).order_by(Lecture.number)).all()
    return visit.page(
        "community/qa.html",
        title="Q&A",
        active="/qa",
        board=shown,
        threads=shown.threads,
        filters=qa_board.FILTERS,
        announcements=notices,
        categories=CATEGORIES,
        labels=CATEGORY_LABELS,
        category=category,
        q=q,
        show=show,
        lectures=lectures,
    )


@router.post("/qa/ask")
def ask(visit: VisitDep, form: FormDep) -> Response:
    visit.person()
    return visit.act(
        lambda: forum.post_question(
            visit.db,
            visit.actor(),
            category=str(form.get("category") or ""),
            title=str(form.get("title") or ""),
            body=str(form.get("body") or ""),
            anonymous=_flag(form, "anonymous"),
            private=_flag(form, "private"),
            lecture_key=str(form.get("lecture") or "") or None,
            clock=visit.state.clock,
        ),
        back="/qa",
        ok=lambda t: f"Question posted: {t.title}",
        keep=form,
        then=lambda t: f"/qa/{t.id}",
    )


@router.post("/qa/announce")
def announce(visit: VisitDep, form: FormDep) -> Response:
    visit.staff()
    return visit.act(
        lambda: forum.post_announcement(
            visit.db,
            visit.actor(),
            title=str(form.get("title") or ""),
            body=str(form.get("body") or ""),
            category=str(form.get("category") or "project"),
            clock=visit.state.clock,
        ),
        back="/qa",
        ok="Announcement posted to every dashboard.",
    )


@router.get("/qa/ticket")
def ticket_form(visit: VisitDep) -> Response:
    visit.person()
    nodes = visit.db.scalars(select(Node).order_by(Node.id)).all()
    board = forum.open_tickets_by_node(visit.db, visit.actor())
    return visit.page(
        "community/ticket.html",
        title="File an infrastructure ticket",
        active="/qa",
        nodes=nodes,
        board=board,
    )


@router.post("/qa/ticket")
def file_ticket(visit: VisitDep, form: FormDep) -> Response:
    visit.person()

    def use_case() -> Any:
        when = parse_instant(str(form.get("occurred_at") or ""), field="occurred_at")
        return forum.file_ticket(
            visit.db,
            visit.actor(),
            title=str(form.get("title") or ""),
            node_id=int(str(form.get("node_id") or "0") or 0),
            occurred_at=when,
            job_ids=str(form.get("job_ids") or ""),
            logs=str(form.get("logs") or ""),
            repro=str(form.get("repro") or ""),
            body=str(form.get("body") or ""),
            clock=visit.state.clock,
        )

    return visit.act(
        use_case,
        back="/qa/ticket",
        ok=lambda t: f"Ticket #{t.id} filed; staff will acknowledge it here.",
    )


@router.get("/qa/{thread_id}")
def thread_page(visit: VisitDep, thread_id: int) -> Response:
    visit.person()
    actor = visit.actor()
    thread = forum.get_thread(visit.db, actor, thread_id)
    view = qa_board.thread_for(visit.db, actor, thread)
    history = qa_board.history(visit.db, actor, thread.id) if actor.is_staff else []
    # the Markdown as written, for the edit forms of what this person may edit
    thread_source = thread.body if view.mine or actor.is_staff else ""
    post_sources = {
        p.id: p.body
        for p in thread.posts
        if actor.is_staff or (p.author_id is not None and p.author_id == actor.person_id)
    }
    if qa_board.opened(visit.db, actor, thread, clock=visit.state.clock):
        # the one write a page view makes: a read marker, only when there is news
        visit.begin_write()
        qa_board.opened(visit.db, actor, thread, clock=visit.state.clock)
        visit.db.commit()
    return visit.page(
        "community/thread.html",
        title=view.title,
        active="/qa",
        thread=view,
        following=view.following,
        history=history,
        thread_source=thread_source,
        post_sources=post_sources,
        labels=CATEGORY_LABELS,
    )


@router.post("/qa/{thread_id}/answer")
def answer(visit: VisitDep, form: FormDep, thread_id: int) -> Response:
    visit.person()
    return visit.act(
        lambda: forum.answer(
            visit.db,
            visit.actor(),
            thread_id,
            body=str(form.get("body") or ""),
            anonymous=_flag(form, "anonymous"),
            clock=visit.state.clock,
        ),
        back=f"/qa/{thread_id}",
        ok="Answer posted.",
        keep=form,
    )


@router.post("/qa/{thread_id}/posts/{post_id}/endorse")
def endorse(visit: VisitDep, form: FormDep, thread_id: int, post_id: int) -> Response:
    visit.staff()
    endorsed = form.get("endorsed") != "no"
    return visit.act(
        lambda: forum.endorse(
            visit.db, visit.actor(), post_id, endorsed=endorsed, clock=visit.state.clock
        ),
        back=f"/qa/{thread_id}",
        ok="Answer endorsed." if endorsed else "Endorsement removed.",
    )


@router.post("/qa/{thread_id}/status")
def ticket_status(visit: VisitDep, form: FormDep, thread_id: int) -> Response:
    visit.staff()
    status = str(form.get("status") or "")
    return visit.act(
        lambda: forum.set_ticket_status(
            visit.db, visit.actor(), thread_id, status, clock=visit.state.clock
        ),
        back=f"/qa/{thread_id}",
        ok=f"Ticket marked {status}.",
    )
