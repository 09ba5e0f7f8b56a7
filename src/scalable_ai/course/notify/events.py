"""Who hears about what: each event of the course becomes a :class:`Notification` per person
in the same unit of work as the event itself (nothing is announced that was rolled back).

Events (issue 13): answers on followed threads, announcements, consent requests for a
reservation, exceptions decided, scores recorded ("grades released"), the 24-hour deadline
reminder with slack days left, and a node marked down. A person may mute kinds (no bell, no
mail) and choose e-mail for each notification, a daily digest, or none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, bindparam, func, select, update
from sqlalchemy.orm import Session

from scalable_ai.course.tables import GroupMembership, Person
from scalable_ai.course.tables.notifications import Notification, NotificationSetting

__all__ = ["Notification"]
from scalable_ai.errors import NotFound, UserError

KINDS: dict[str, str] = {
    "answer": "Answers and comments on threads you follow",
    "announcement": "Announcements",
    "consent": "Consent requests for node reservations",
    "exception": "Deadline exceptions decided",
    "grade": "Grades released",
    "deadline": "Deadline reminders (24 hours before)",
    "node": "Nodes marked down or back up",
}
EMAIL_MODES: dict[str, str] = {
    "each": "an e-mail for each notification",
    "digest": "one e-mail a day with everything new (daily digest)",
    "off": "no e-mail (the bell only)",
}
DEFAULT_EMAIL = "digest"


def settings_for(session: Session, person_id: int) -> NotificationSetting:
    """The person's settings (the defaults, unsaved, when they never chose)."""
    row = session.scalar(
        select(NotificationSetting).where(NotificationSetting.person_id == person_id)
    )
    return row or NotificationSetting(person_id=person_id, email=DEFAULT_EMAIL, muted=[])


def save_settings(
    session: Session, person_id: int, *, email: str, muted: Sequence[str]
) -> NotificationSetting:
    if email not in EMAIL_MODES:
        raise UserError(f"e-mail must be one of {', '.join(EMAIL_MODES)}", field="email")
    unknown = sorted(set(muted) - set(KINDS))
    if unknown:
        raise UserError(f"no notifications of kind {unknown[0]!r}", field="muted")
    row = settings_for(session, person_id)
    row.email, row.muted = email, sorted(set(muted))
    session.add(row)
    return row


def notify(
    session: Session,
    person_ids: Iterable[int],
    *,
    kind: str,
    title: str,
    at: datetime,
    body: str = "",
    link: str = "/",
    key: str | None = None,
    renew: bool = False,
) -> int:
    """Tell these people (active, not muting ``kind``); returns how many were told. ``key``
    names the event: told once per person; ``renew`` makes a repeat (a changed score) unread
    and unsent again instead of a second notification."""
    assert kind in KINDS, kind
    ids = sorted(set(person_ids))
    if not ids:
        return 0
    active = set(session.scalars(select(Person.id).where(Person.id.in_(ids), Person.active)))
    muting = {
        row.person_id
        for row in session.scalars(
            select(NotificationSetting).where(NotificationSetting.person_id.in_(ids))
        )
        if kind in (row.muted or [])
    }
    told = 0
    for person_id in ids:
        if person_id not in active or person_id in muting:
            continue
        own_key = f"{key}:{person_id}" if key else None
        existing = (
            session.scalar(select(Notification).where(Notification.key == own_key))
            if own_key
            else None
        )
        if existing is not None:
            if renew:
                existing.title, existing.body, existing.link = title[:300], body, link
                existing.created_at, existing.read_at, existing.emailed_at = at, None, None
                told += 1
            continue
        session.add(
            Notification(
                person_id=person_id,
                kind=kind,
                title=title[:300],
                body=body,
                link=link,
                key=own_key,
                created_at=at,
            )
        )
        told += 1
    session.flush()
    return told


def everyone(session: Session, *, but: int | None = None) -> list[int]:
    """Every active person (an announcement's audience), but its author."""
    return [i for i in session.scalars(select(Person.id).where(Person.active)) if i != but]


def members_of(session: Session, group_ids: Iterable[int]) -> list[int]:
    """The current members of these groups."""
    ids = list(set(group_ids))
    if not ids:
        return []
    return list(
        session.scalars(
            select(GroupMembership.person_id).where(
                GroupMembership.group_id.in_(ids), GroupMembership.left_at.is_(None)
            )
        )
    )


# --- the bell ------------------------------------------------------------------------------


_UNREAD = (
    select(func.count())
    .select_from(Notification)
    .where(Notification.person_id == bindparam("person_id"), Notification.read_at.is_(None))
)


def unread_count(session: Session, person_id: int) -> int:
    """The bell's number; every page shows it, so its statement is built once."""
    return session.scalar(_UNREAD, {"person_id": person_id}) or 0


def inbox(
    session: Session, person_id: int, *, limit: int = 50, unread_only: bool = False
) -> Sequence[Notification]:
    """The newest notifications first (only the unread ones with ``unread_only``)."""
    stmt = select(Notification).where(Notification.person_id == person_id)
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    return session.scalars(
        stmt.order_by(Notification.created_at.desc(), Notification.id.desc()).limit(limit)
    ).all()


def mark_read(
    session: Session, person_id: int, *, at: datetime, notification_id: int | None = None
) -> int:
    """Mark one notification (or all) read; returns how many changed."""
    stmt = update(Notification).where(
        Notification.person_id == person_id, Notification.read_at.is_(None)
    )
    if notification_id is not None:
        row = session.get(Notification, notification_id)
        if row is None or row.person_id != person_id:  # another's is as absent as none
            raise NotFound(f"no notification with id {notification_id}", field="notification")
        stmt = stmt.where(Notification.id == notification_id)
    result = cast(CursorResult[Any], session.execute(stmt.values(read_at=at)))
    return result.rowcount or 0
