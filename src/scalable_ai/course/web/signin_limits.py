"""Sign-in limits that hold under concurrency and cannot be turned against an account's owner.

Before (issue 21, finding 3): the check, the password verification and the failure count were
three steps in process memory, so 200 concurrent wrong guesses against one account got 44 real
password checks (limit 5), every key stayed in memory forever, and after five failures from
anywhere the owner's right password also got 429.

Now each attempt first *takes a slot* in one atomic SQL statement (an ``UPDATE … WHERE
attempts < limit``: on PostgreSQL the row lock, on SQLite the single writer, make it atomic
for every worker process), and only an attempt that got its slot verifies the password:

- per account **at one client address** (``per_account``, 5 in 5 minutes): guessing one
  password from one place is slow, and the owner, signing in from their own address, is never
  locked out by someone else's failures (OWASP ASVS 2.2.1; the NIST SP 800-63B advice that
  throttling must not become a denial of service against the subscriber);
- per client address (``per_client``, 20 in 5 minutes), whatever the account: one client
  cannot spray many accounts. A successful sign-in gives its slot back, so a classroom
  behind one NAT address signing in at 9:30 does not run out.

Rows are keyed by a SHA-256 (a row is small whatever was typed) and rows whose window has
ended are deleted as new attempts come in, so the table stays as small as the last window's
traffic. Windows run on the wall clock (``now``), not the course clock: a demo pins the course
clock, and a pinned clock would never end a window.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from sqlalchemy import case, delete, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, sessionmaker

from scalable_ai.course.tables import SignInLimit


def _key(kind: str, *parts: str) -> str:
    return hashlib.sha256("\x1f".join((kind, *parts)).encode()).hexdigest()


class SignInLimiter:
    """At most ``per_account`` attempts per e-mail address at one client and ``per_client``
    attempts per client within ``window_s`` seconds, counted in the course database."""

    def __init__(
        self,
        per_account: int = 5,
        per_client: int = 20,
        window_s: float = 300.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.per_account = per_account
        self.per_client = per_client
        self.window_s = window_s
        self._now = now

    def take(self, sessions: sessionmaker[Session], email: str, client: str) -> float:
        """Count one attempt; returns 0 when it may go ahead (verify the password), else the
        seconds until it may be tried again (nothing is verified)."""
        now = self._now()
        with sessions() as session, session.begin():
            session.execute(delete(SignInLimit).where(SignInLimit.window_ends < now))
            for key, limit in (
                (_key("account", email.lower(), client), self.per_account),
                (_key("client", client), self.per_client),
            ):
                wait = self._take_slot(session, key, limit, now)
                if wait > 0:
                    return wait
        return 0.0

    def succeeded(self, sessions: sessionmaker[Session], email: str, client: str) -> None:
        """The password was right: the account's count at this client starts over and the
        client gets its slot back."""
        with sessions() as session, session.begin():
            session.execute(
                delete(SignInLimit).where(SignInLimit.key == _key("account", email.lower(), client))
            )
            session.execute(
                update(SignInLimit)
                .where(SignInLimit.key == _key("client", client), SignInLimit.attempts > 0)
                .values(attempts=SignInLimit.attempts - 1)
            )

    def _take_slot(self, session: Session, key: str, limit: int, now: float) -> float:
        insert = (
            postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        )
        session.execute(
            insert(SignInLimit)
            .values(key=key, attempts=0, window_ends=now + self.window_s)
            .on_conflict_do_nothing(index_elements=["key"])
        )
        ended = SignInLimit.window_ends <= now
        taken = session.execute(
            update(SignInLimit)
            .where(SignInLimit.key == key, or_(ended, SignInLimit.attempts < limit))
            .values(
                attempts=case((ended, 1), else_=SignInLimit.attempts + 1),
                window_ends=case((ended, now + self.window_s), else_=SignInLimit.window_ends),
            )
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            return 0.0
        ends = session.scalar(select(SignInLimit.window_ends).where(SignInLimit.key == key))
        return max(1.0, (ends or now) - now)
