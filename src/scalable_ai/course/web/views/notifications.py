"""The notification bell's page (issue 13): what is new, newest first, marked read when
opened or all at once, and how one wants to hear (e-mail for each, a daily digest, or none;
kinds muted). Rules: ``course.notify.events``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from scalable_ai.course.notify import events
from scalable_ai.course.web.visit import Visit, checked_form, open_visit

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]


@router.get("/notifications")
def notifications_page(visit: VisitDep) -> Response:
    me = visit.person()
    return visit.page(
        "notifications.html",
        title="Notifications",
        active="/notifications",
        items=events.inbox(visit.db, me.id),
        settings=events.settings_for(visit.db, me.id),
        kinds=events.KINDS,
        modes=events.EMAIL_MODES,
    )


@router.post("/notifications/read")
def mark_read(visit: VisitDep, form: FormDep) -> Response:
    """Mark all read, or open one: marked read and on to what it is about."""
    me = visit.person()
    one = str(form.get("id") or "")
    target = "/notifications"
    if one.isdigit():
        row = visit.db.get(events.Notification, int(one))
        if row is not None and row.person_id == me.id:
            target = row.link
    return visit.act(
        lambda: events.mark_read(
            visit.db, me.id, at=visit.now, notification_id=int(one) if one.isdigit() else None
        ),
        back="/notifications",
        ok=lambda n: "Marked read." if one else f"{n} marked read.",
        then=lambda _: target,
    )


@router.post("/notifications/settings")
def save_settings(visit: VisitDep, form: FormDep) -> Response:
    me = visit.person()
    muted = [k for k in events.KINDS if str(form.get(f"hear_{k}") or "") != "on"]
    return visit.act(
        lambda: events.save_settings(
            visit.db, me.id, email=str(form.get("email") or ""), muted=muted
        ),
        back="/notifications",
        ok="Your notification settings are saved.",
    )
