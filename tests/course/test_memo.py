"""A read kept for the transaction (``service.memo``) is never stale for a use case: any
write statement, flush, locking read or end of transaction forgets it. The slack-day rules
depend on it: a use case that locks and then reads the ledger must see what is stored."""

from __future__ import annotations

from sqlalchemy import func, select, update

from scalable_ai.course.service.memo import remembered
from scalable_ai.course.tables import Lecture


def _count_reads(session):
    calls = {"n": 0}

    def read() -> int:
        calls["n"] += 1
        return int(session.scalar(select(func.count()).select_from(Lecture)))

    return calls, read


def test_a_read_is_kept_until_the_transaction_ends(session):
    calls, read = _count_reads(session)
    assert remembered(session, "lectures", read) == remembered(session, "lectures", read)
    assert calls["n"] == 1
    session.rollback()
    remembered(session, "lectures", read)
    assert calls["n"] == 2


def test_a_write_statement_a_flush_or_a_locking_read_forgets_it(session):
    calls, read = _count_reads(session)
    remembered(session, "lectures", read)
    session.execute(update(Lecture).where(Lecture.id == -1).values(title="x"))
    remembered(session, "lectures", read)
    assert calls["n"] == 2
    session.scalars(select(Lecture).limit(1).with_for_update()).all()
    remembered(session, "lectures", read)
    assert calls["n"] == 3
    lecture = session.scalars(select(Lecture).limit(1)).one()
    lecture.title = lecture.title + " (moved)"
    remembered(session, "lectures", read)  # changes pending: read again (autoflush)
    remembered(session, "lectures", read)  # flushed: the flush forgot, so read once more
    assert calls["n"] == 5
    remembered(session, "lectures", read)
    assert calls["n"] == 5
