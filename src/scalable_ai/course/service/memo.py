"""Reads a page repeats, kept for the rest of the transaction while nothing is written.

A dashboard asks for the same student's slack-day ledger twice (their deadlines, their
balance); on PostgreSQL each ask is a round trip, and round trips were half of a page's
time under load (RESULTS, "Course platform under load"). :func:`remembered` keeps an
answer in ``session.info`` until the session flushes or any transaction or savepoint ends,
and recomputes while changes are pending; a locking read (``FOR UPDATE``/``FOR SHARE``) or
any write statement also forgets it, so what a use case reads after taking its lock is
never an answer from before the lock. ``actors.current_group_id`` and
``slack.person_ledger_rows`` keep their reads here.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

T = TypeVar("T")
MEMO_KEY = "scalable_ai.remembered_reads"


def remembered(session: Session, key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``'s answer, computed once per transaction for ``key`` while nothing is
    written (pending changes: computed each time, which autoflushes them)."""
    if session.new or session.dirty or session.deleted:
        return compute()
    kept: dict[Hashable, Any] = session.info.setdefault(MEMO_KEY, {})
    if key not in kept:
        kept[key] = compute()
    return kept[key]  # type: ignore[no-any-return]


@event.listens_for(Session, "after_flush")
def _forget_after_flush(session: Session, _context: object) -> None:
    session.info.pop(MEMO_KEY, None)


@event.listens_for(Session, "after_transaction_end")
def _forget_after_transaction(session: Session, _transaction: object) -> None:
    session.info.pop(MEMO_KEY, None)


@event.listens_for(Session, "do_orm_execute")
def _forget_on_lock_or_write(state: Any) -> None:
    if not state.is_select or getattr(state.statement, "_for_update_arg", None) is not None:
        state.session.info.pop(MEMO_KEY, None)
