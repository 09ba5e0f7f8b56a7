"""A group's members hand in at the same moment (issue 4's load test: five members submit
together). Each hand-in runs in its own committed transaction on a real database, as the
web server runs them. On time, none waits for another (PostgreSQL: the group and its
members locked ``FOR SHARE``), every one is stored with its audit entry, and the latest
(latest ``submitted_at``, then highest id) is the group's hand-in. Late, the slack day is
spent once for the group ("At most one slack day may be applied to any single assignment"),
however many members hand in at once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scalable_ai.course.clock import BERKELEY, FixedClock
from scalable_ai.course.db import session_factory, unit_of_work
from scalable_ai.course.service import Actor
from scalable_ai.course.service.submissions import latest_submissions, submit
from scalable_ai.course.tables import AuditEntry, SlackDayUse, Submission
from tests.course.conftest import seeded_group

NONE_USED = {"external_code": "none", "sources": "none", "ai_assistance": "none"}
A1_DUE = datetime(2026, 2, 10, 23, 59, tzinfo=BERKELEY)
HAND_INS = 10
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _group_of_five(kind: str, request: pytest.FixtureRequest) -> tuple[object, int, list[Actor]]:
    return seeded_group(kind, request, 5, "Member")


def _hand_in_together(
    engine: object, members: list[Actor], at: list[datetime], *, confirm_slack_day: bool = False
) -> list[str]:
    """Every hand-in released at once by a barrier, each its own unit of work."""
    factory = session_factory(engine)  # type: ignore[arg-type]
    barrier = threading.Barrier(len(at))
    outcomes: list[str] = []

    def hand_in(i: int) -> None:
        barrier.wait()
        try:
            with unit_of_work(factory, write=True) as session:  # as a POST runs
                submit(
                    session,
                    members[i % len(members)],
                    assignment="A1",
                    integrity=NONE_USED,
                    link=f"https://example.edu/commit/{i}",
                    confirm_slack_day=confirm_slack_day,
                    clock=FixedClock(at[i]),
                )
            outcomes.append("stored")
        except Exception as error:  # any failure is the finding
            outcomes.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=hand_in, args=(i,)) for i in range(len(at))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.parametrize("kind", BACKENDS)
def test_members_handing_in_at_once_are_all_stored_and_the_latest_is_the_groups(kind, request):
    engine, group_id, members = _group_of_five(kind, request)
    # Two hand-ins share each instant, so "latest" also needs the id to break the tie.
    at = [A1_DUE - timedelta(hours=2) + timedelta(minutes=i // 2) for i in range(HAND_INS)]
    outcomes = _hand_in_together(engine, members, at)

    assert outcomes == ["stored"] * HAND_INS
    with Session(engine) as session:  # type: ignore[arg-type]
        rows = session.scalars(select(Submission).where(Submission.group_id == group_id)).all()
        assert sorted(r.link for r in rows) == sorted(
            f"https://example.edu/commit/{i}" for i in range(HAND_INS)
        )
        assert (
            session.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "submission.add")
            )
            == HAND_INS
        )
        newest = max(rows, key=lambda r: (r.submitted_at, r.id))
        latest = latest_submissions(session, group_id=group_id, person_id=members[0].person_id)
        assert latest[newest.assignment_id].id == newest.id
    engine.dispose()  # type: ignore[attr-defined]


@pytest.mark.parametrize("kind", BACKENDS)
def test_members_handing_in_late_at_once_spend_one_slack_day_for_the_group(kind, request):
    engine, group_id, members = _group_of_five(kind, request)
    at = [A1_DUE + timedelta(hours=2)] * 5
    outcomes = _hand_in_together(engine, members, at, confirm_slack_day=True)

    assert outcomes == ["stored"] * 5
    with Session(engine) as session:  # type: ignore[arg-type]
        spent = session.scalars(select(SlackDayUse).where(SlackDayUse.revoked_at.is_(None))).all()
        assert Counter(r.person_id for r in spent) == {m.person_id: 1 for m in members}
        rows = session.scalars(select(Submission).where(Submission.group_id == group_id)).all()
        assert len(rows) == 5
        assert sum(r.slack_day_used for r in rows) >= 1
    engine.dispose()  # type: ignore[attr-defined]
