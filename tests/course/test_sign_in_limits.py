"""The sign-in limiter's check-and-count is one atomic statement on both databases (issue 21:
"the check, the password verification and the failure count are separate steps, so 200
concurrent wrong guesses against one account got 44 real password checks (limit 5)").

Many threads, each with its own connection, race for slots of one account at one client:
exactly the limit get one, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from scalable_ai.course.db import session_factory
from scalable_ai.course.web.signin_limits import SignInLimiter
from tests.course.conftest import BACKENDS

RACERS = 40


@pytest.mark.parametrize("backend", BACKENDS)
def test_racing_attempts_get_exactly_the_limit_of_slots(backend, migrated_engines):
    engine = migrated_engines(backend)
    sessions = session_factory(engine)
    limiter = SignInLimiter(per_account=5, per_client=1000)
    start = threading.Barrier(RACERS)

    def race(i: int) -> float:
        start.wait()
        return limiter.take(sessions, f"race-{backend}@example.edu", "203.0.113.5")

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        waits = list(pool.map(race, range(RACERS)))
    assert waits.count(0.0) == 5
    assert all(w > 0 for w in waits if w != 0.0)
    # The owner, at another address, still has all five.
    assert limiter.take(sessions, f"race-{backend}@example.edu", "198.51.100.5") == 0.0
