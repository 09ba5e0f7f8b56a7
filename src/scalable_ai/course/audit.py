"""The append-only audit log: every change of a score, slack day, exception, group or
reservation is written here with who made it, when, and the row before and after.

The issue asks for "an append-only audit log (who, when, before, after)"; the migration adds
triggers that refuse UPDATE and DELETE on the table, so the log cannot be edited through the
application or by a slip in SQL. Snapshots are plain JSON (ISO dates), so the log survives
export and import unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from scalable_ai.course.tables import AuditEntry, Base

if TYPE_CHECKING:
    from scalable_ai.course.service.actors import Actor


def snapshot(row: Base | None) -> dict[str, Any] | None:
    """The row's columns as JSON-ready data (``None`` for a row that does not exist)."""
    if row is None:
        return None
    data: dict[str, Any] = {}
    for column in inspect(row).mapper.column_attrs:
        value = getattr(row, column.key)
        if column.key in ("password_hash", "token_hash"):
            value = "(secret)" if value else None
        elif isinstance(value, datetime | date):
            value = value.isoformat()
        data[column.key] = value
    return data


def record(
    session: Session,
    actor: Actor,
    action: str,
    row: Base,
    *,
    before: dict[str, Any] | None,
    at: datetime,
    after: dict[str, Any] | bool | None = True,
) -> AuditEntry:
    """Append one entry for ``row``: ``before`` is a :func:`snapshot` taken before the
    change, ``after`` defaults to the row as it is now (pass ``None`` for a removal)."""
    session.flush()
    entry = AuditEntry(
        at=at,
        actor_id=actor.person_id,
        actor_label=actor.label,
        action=action,
        entity=row.__tablename__,
        entity_id=str(inspect(row).identity[0] if inspect(row).identity else ""),
        before=before,
        after=snapshot(row) if after is True else (after or None),
    )
    session.add(entry)
    return entry


def entries(
    session: Session,
    *,
    entity: str | None = None,
    entity_id: str | int | None = None,
    action_prefix: str | None = None,
    limit: int = 200,
) -> Sequence[AuditEntry]:
    """The newest entries first, optionally for one table, one row or one family of actions."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == str(entity_id))
    if action_prefix is not None:
        query = query.where(AuditEntry.action.startswith(action_prefix))
    return session.scalars(query).all()
