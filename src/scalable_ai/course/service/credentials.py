"""Credentials: web sessions, personal API tokens, calendar feed tokens and SSH keys.

A token is 32 random bytes (URL-safe base64) shown once; only its SHA-256 is stored. The
web sign-in makes sessions with :func:`start_web_session`, the JSON API reads
``Authorization: Bearer`` with :func:`actor_for_api_token`, and the iCalendar feed URL
carries a calendar token that its owner can revoke.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock
from scalable_ai.course.policy.groups import parse_ssh_public_key
from scalable_ai.course.service.actors import (
    Actor,
    get_person,
    require_self_or_staff,
)
from scalable_ai.course.service.course import row_by_id
from scalable_ai.course.tables import ApiToken, CalendarToken, Person, SshKey, WebSession
from scalable_ai.errors import Conflict, Forbidden, UserError


def new_token() -> str:
    """A fresh unguessable token (256 bits)."""
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- web sessions (the web engineer's sign-in calls these) -------------------------------


def start_web_session(
    session: Session, person: Person, *, clock: Clock, lifetime: timedelta = timedelta(days=14)
) -> str:
    """Open a session for a person who just proved who they are; returns the cookie value."""
    token = new_token()
    now = clock.now()
    session.add(
        WebSession(
            token_hash=hash_token(token),
            person_id=person.id,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    session.flush()
    return token


_WEB_SESSION = select(WebSession).where(WebSession.token_hash == bindparam("token_hash"))


def person_for_web_session(session: Session, token: str, *, clock: Clock) -> Person | None:
    """The signed-in person for a cookie, or ``None`` if unknown, expired or revoked."""
    row = session.scalar(_WEB_SESSION, {"token_hash": hash_token(token)})
    now = clock.now()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    if not row.person.active:
        return None
    row.last_seen_at = now
    return row.person


def end_web_session(session: Session, token: str, *, clock: Clock) -> None:
    """Sign out: the cookie stops working."""
    row = session.scalar(select(WebSession).where(WebSession.token_hash == hash_token(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = clock.now()


# --- personal API tokens ------------------------------------------------------------------


def create_api_token(
    session: Session, actor: Actor, *, person_id: int, name: str, clock: Clock
) -> tuple[ApiToken, str]:
    """A new API token for ``person_id`` (yourself, or anyone for staff); the plain token
    is returned once and never stored."""
    get_person(session, person_id)
    require_self_or_staff(actor, person_id, "create API tokens")
    name = name.strip()
    if not name or len(name) > 200:
        raise UserError("a token needs a name of 1 to 200 characters", field="name")
    token = new_token()
    row = ApiToken(
        token_hash=hash_token(token), person_id=person_id, name=name, created_at=clock.now()
    )
    session.add(row)
    audit.record(session, actor, "api_token.create", row, before=None, at=clock.now())
    return row, token


def actor_for_api_token(
    session: Session, token: str, *, clock: Clock, record_use: bool = True
) -> Actor:
    """The actor behind ``Authorization: Bearer <token>``. ``record_use`` stamps
    ``last_used_at`` (the API does so for requests that change something: a read takes no
    write lock)."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None or not row.person.active:
        raise Forbidden("the API token is unknown or revoked")
    if record_use:
        row.last_used_at = clock.now()
    return Actor.of(row.person)


def list_api_tokens(session: Session, actor: Actor, person_id: int) -> Sequence[ApiToken]:
    require_self_or_staff(actor, person_id, "list API tokens")
    return session.scalars(
        select(ApiToken).where(ApiToken.person_id == person_id).order_by(ApiToken.id)
    ).all()


def revoke_api_token(session: Session, actor: Actor, token_id: int, *, clock: Clock) -> ApiToken:
    return _revoke(
        session,
        actor,
        ApiToken,
        token_id,
        what="API token",
        field="token",
        permission="revoke API tokens",
        action="api_token.revoke",
        clock=clock,
    )


# A credential its owner (or staff) revokes by id; revoking twice is a no-op.
Revocable = TypeVar("Revocable", ApiToken, SshKey)


def _revoke(
    session: Session,
    actor: Actor,
    table: type[Revocable],
    row_id: int,
    *,
    what: str,
    field: str,
    permission: str,
    action: str,
    clock: Clock,
) -> Revocable:
    """Mark one credential revoked (audited) after checking it exists and is the actor's own
    (or the actor is staff)."""
    row = row_by_id(session, table, row_id, what=what, field=field)
    require_self_or_staff(actor, row.person_id, permission)
    if row.revoked_at is None:
        before = audit.snapshot(row)
        row.revoked_at = clock.now()
        audit.record(session, actor, action, row, before=before, at=clock.now())
    return row


# --- calendar feed tokens -----------------------------------------------------------------


def issue_calendar_token(session: Session, actor: Actor, person_id: int, *, clock: Clock) -> str:
    """A new feed token for the person; earlier ones are revoked (one live feed URL each)."""
    get_person(session, person_id)
    require_self_or_staff(actor, person_id, "make a calendar feed link")
    now = clock.now()
    for row in _live_calendar_tokens(session, person_id):
        row.revoked_at = now
    token = new_token()
    session.add(CalendarToken(token_hash=hash_token(token), person_id=person_id, created_at=now))
    session.flush()
    return token


def person_for_calendar_token(session: Session, token: str) -> Person | None:
    """Whose feed this is, or ``None`` when the token is unknown or revoked."""
    row = session.scalar(select(CalendarToken).where(CalendarToken.token_hash == hash_token(token)))
    if row is None or row.revoked_at is not None or not row.person.active:
        return None
    return row.person


def revoke_calendar_tokens(session: Session, actor: Actor, person_id: int, *, clock: Clock) -> int:
    """Kill every feed link of the person; returns how many were live."""
    require_self_or_staff(actor, person_id, "revoke calendar feed links")
    rows = _live_calendar_tokens(session, person_id)
    for row in rows:
        row.revoked_at = clock.now()
    return len(rows)


def _live_calendar_tokens(session: Session, person_id: int) -> Sequence[CalendarToken]:
    return session.scalars(
        select(CalendarToken).where(
            CalendarToken.person_id == person_id, CalendarToken.revoked_at.is_(None)
        )
    ).all()


# --- SSH public keys ----------------------------------------------------------------------


def ssh_fingerprint(public_key: str) -> tuple[str, str, str | None]:
    """Check an OpenSSH public key line with the policy's parser; returns (normalized key,
    ``SHA256:`` fingerprint, comment)."""
    key = parse_ssh_public_key(public_key)
    return key.line(""), key.fingerprint, key.comment or None


def add_ssh_key(
    session: Session, actor: Actor, *, person_id: int, public_key: str, clock: Clock
) -> SshKey:
    """Register a public key ("students register SSH public keys"); it goes into the
    ``authorized_keys`` of the group's node."""
    get_person(session, person_id)
    require_self_or_staff(actor, person_id, "register SSH keys")
    key, fingerprint, comment = ssh_fingerprint(public_key)
    clash = session.scalar(
        select(SshKey).where(SshKey.person_id == person_id, SshKey.fingerprint == fingerprint)
    )
    if clash is not None and clash.revoked_at is None:
        raise Conflict(f"this key ({fingerprint}) is already registered", field="public_key")
    if clash is not None:
        before = audit.snapshot(clash)
        clash.revoked_at = None
        clash.created_at = clock.now()
        audit.record(session, actor, "ssh_key.add", clash, before=before, at=clock.now())
        return clash
    row = SshKey(
        person_id=person_id,
        public_key=key,
        fingerprint=fingerprint,
        comment=comment,
        created_at=clock.now(),
    )
    session.add(row)
    audit.record(session, actor, "ssh_key.add", row, before=None, at=clock.now())
    return row


def list_ssh_keys(session: Session, actor: Actor, person_id: int) -> Sequence[SshKey]:
    require_self_or_staff(actor, person_id, "list SSH keys")
    return session.scalars(
        select(SshKey)
        .where(SshKey.person_id == person_id, SshKey.revoked_at.is_(None))
        .order_by(SshKey.id)
    ).all()


def revoke_ssh_key(session: Session, actor: Actor, key_id: int, *, clock: Clock) -> SshKey:
    return _revoke(
        session,
        actor,
        SshKey,
        key_id,
        what="SSH key",
        field="key",
        permission="remove SSH keys",
        action="ssh_key.revoke",
        clock=clock,
    )
