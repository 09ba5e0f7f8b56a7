"""The JSON API of notifications (issue 13), what the bell and ``/notifications`` show: one's
own notifications newest first, the unread count, marking one or all read, and how one hears
(e-mail for each, a daily digest, or none; kinds muted). Everyone reads and changes only
their own: the caller is the person of the bearer token. Rules: :mod:`.events`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from scalable_ai.course.api.context import SignedIn
from scalable_ai.course.api.schemas import Id, Out
from scalable_ai.course.notify import events
from scalable_ai.course.service.actors import acting_person
from scalable_ai.course.tables.notifications import NotificationSetting

router = APIRouter(prefix="/notifications", tags=["notifications"])
Kind = Literal["answer", "announcement", "consent", "exception", "grade", "deadline", "node"]
EmailMode = Literal["each", "digest", "off"]


class NotificationOut(Out):
    id: int
    kind: str
    title: str
    body: str
    link: str
    created_at: datetime
    read_at: datetime | None


class UnreadOut(BaseModel):
    unread: int


class MarkReadIn(BaseModel):
    """One notification by ``id``, or every unread one when ``id`` is null."""

    id: Id | None = None


class MarkedOut(BaseModel):
    marked: int
    unread: int


class SettingsIn(BaseModel):
    email: EmailMode
    muted: list[Kind] = Field(default_factory=list, max_length=len(events.KINDS))


class SettingsOut(BaseModel):
    email: str
    muted: list[str]
    kinds: dict[str, str]
    email_modes: dict[str, str]


def _settings_out(row: NotificationSetting) -> SettingsOut:
    return SettingsOut(
        email=row.email,
        muted=list(row.muted or []),
        kinds=events.KINDS,
        email_modes=events.EMAIL_MODES,
    )


@router.get("", response_model=list[NotificationOut], summary="Your notifications, newest first")
def inbox(
    call: SignedIn,
    unread: Annotated[bool, Query(description="only the unread ones")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> object:
    me = acting_person(call.session, call.actor)
    return events.inbox(call.session, me.id, limit=limit, unread_only=unread)


@router.get("/unread", response_model=UnreadOut, summary="How many are unread (the bell)")
def unread_count(call: SignedIn) -> object:
    me = acting_person(call.session, call.actor)
    return UnreadOut(unread=events.unread_count(call.session, me.id))


@router.post("/read", response_model=MarkedOut, summary="Mark one notification, or all, read")
def mark_read(call: SignedIn, body: MarkReadIn) -> object:
    me = acting_person(call.session, call.actor)
    marked = events.mark_read(call.session, me.id, at=call.clock.now(), notification_id=body.id)
    return MarkedOut(marked=marked, unread=events.unread_count(call.session, me.id))


@router.get("/settings", response_model=SettingsOut, summary="How you hear about what")
def settings(call: SignedIn) -> object:
    me = acting_person(call.session, call.actor)
    return _settings_out(events.settings_for(call.session, me.id))


@router.put("/settings", response_model=SettingsOut, summary="Choose how you hear about what")
def save_settings(call: SignedIn, body: SettingsIn) -> object:
    me = acting_person(call.session, call.actor)
    row = events.save_settings(call.session, me.id, email=body.email, muted=body.muted)
    return _settings_out(row)
