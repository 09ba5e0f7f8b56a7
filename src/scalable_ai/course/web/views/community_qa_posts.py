"""What one does to a Q&A post after writing it (issue 13, as on Ed): edit or delete one's
own question or answer (staff: any, and they read the earlier versions on the thread page),
mark a question resolved, follow or unfollow a thread. Rules: ``community.service.qa_board``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from scalable_ai.course.community.service import qa_board
from scalable_ai.course.web.visit import Visit, checked_form, open_visit

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]


def _text(form: dict[str, Any], name: str) -> str:
    return str(form.get(name) or "")


@router.post("/qa/{thread_id}/edit")
def edit_thread(visit: VisitDep, form: FormDep, thread_id: int) -> Response:
    visit.person()
    return visit.act(
        lambda: qa_board.edit_thread(
            visit.db,
            visit.actor(),
            thread_id,
            title=_text(form, "title"),
            body=_text(form, "body"),
            clock=visit.state.clock,
        ),
        back=f"/qa/{thread_id}",
        ok="Question updated.",
    )


@router.post("/qa/{thread_id}/delete")
def delete_thread(visit: VisitDep, form: FormDep, thread_id: int) -> Response:
    visit.person()
    return visit.act(
        lambda: qa_board.delete_thread(visit.db, visit.actor(), thread_id, clock=visit.state.clock),
        back=f"/qa/{thread_id}",
        ok="Thread deleted.",
        then=lambda _: "/qa",
    )


@router.post("/qa/{thread_id}/posts/{post_id}/edit")
def edit_post(visit: VisitDep, form: FormDep, thread_id: int, post_id: int) -> Response:
    visit.person()
    return visit.act(
        lambda: qa_board.edit_post(
            visit.db, visit.actor(), post_id, body=_text(form, "body"), clock=visit.state.clock
        ),
        back=f"/qa/{thread_id}#post-{post_id}",
        ok="Answer updated.",
    )


@router.post("/qa/{thread_id}/posts/{post_id}/delete")
def delete_post(visit: VisitDep, form: FormDep, thread_id: int, post_id: int) -> Response:
    visit.person()
    return visit.act(
        lambda: qa_board.delete_post(visit.db, visit.actor(), post_id, clock=visit.state.clock),
        back=f"/qa/{thread_id}",
        ok="Answer deleted.",
    )


@router.post("/qa/{thread_id}/resolve")
def resolve(visit: VisitDep, form: FormDep, thread_id: int) -> Response:
    visit.person()
    resolved = form.get("resolved") != "no"
    return visit.act(
        lambda: qa_board.set_resolved(
            visit.db, visit.actor(), thread_id, resolved=resolved, clock=visit.state.clock
        ),
        back=f"/qa/{thread_id}",
        ok="Marked resolved." if resolved else "Marked unresolved.",
    )


@router.post("/qa/{thread_id}/follow")
def follow(visit: VisitDep, form: FormDep, thread_id: int) -> Response:
    visit.person()
    following = form.get("following") != "no"
    return visit.act(
        lambda: qa_board.set_following(
            visit.db, visit.actor(), thread_id, following=following, clock=visit.state.clock
        ),
        back=f"/qa/{thread_id}",
        ok="Following: new answers reach your notifications."
        if following
        else "No longer following this thread.",
    )
