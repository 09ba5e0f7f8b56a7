"""Concurrent slack-day requests cannot overspend (issue 3: "test with parallel requests on
PostgreSQL"): eight requests for one group race on real, committed transactions; exactly
three succeed ("3 total slack days"), never two on one assignment. PostgreSQL serializes them
with row locks; SQLite with its write lock, taken before the use case reads."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from scalable_ai.course.clock import FixedClock
from scalable_ai.course.db import make_engine, session_factory, unit_of_work, upgrade
from scalable_ai.course.service import Actor
from scalable_ai.course.service.groups import confirm_group, propose_group
from scalable_ai.course.service.people import add_person
from scalable_ai.course.service.slack import spend_slack_day
from scalable_ai.course.tables import SlackDayUse
from scalable_ai.errors import Conflict
from tests.course.conftest import MID_SEMESTER, load_seed, seeded_group


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_parallel_slack_day_requests_cannot_overspend(kind, request):
    engine, group_id, member_actors = seeded_group(kind, request, 4, "Racer", pool_size=10)
    clock = FixedClock(MID_SEMESTER)

    factory = session_factory(engine)
    requests = ["A1", "A2", "A3", "A4", "A5", "A1", "A2", "A3"]
    barrier = threading.Barrier(len(requests))
    outcomes: list[str] = []

    def request(i: int, assignment: str) -> None:
        barrier.wait()
        try:
            with unit_of_work(factory, write=True) as session:  # as the API runs a POST
                spend_slack_day(
                    session,
                    member_actors[i % 4],
                    group_id=group_id,
                    assignment=assignment,
                    clock=clock,
                )
            outcomes.append("spent")
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=request, args=(i, a)) for i, a in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert Counter(outcomes) == {"spent": 3, "refused": 5}
    with Session(engine) as session:
        rows = session.scalars(select(SlackDayUse).where(SlackDayUse.revoked_at.is_(None))).all()
    per_member = Counter(r.person_id for r in rows)
    assert sorted(per_member.values()) == [3, 3, 3, 3]
    assert len({(r.person_id, r.assignment_id) for r in rows}) == len(rows)
    engine.dispose()


@pytest.mark.postgres
def test_parallel_requests_for_one_node_window_book_it_once(new_postgres_database):
    from datetime import timedelta

    from scalable_ai.course.service.nodes import request_reservation
    from scalable_ai.course.tables import Reservation

    engine = make_engine(new_postgres_database(), pool_size=10)
    upgrade(engine)
    staff = Actor.local_staff("tests")
    clock = FixedClock(MID_SEMESTER)
    with unit_of_work(engine) as session:
        load_seed(session)
    node_ids = []
    with unit_of_work(engine) as session:
        for g in range(3):
            people = [
                add_person(
                    session, staff, name=f"P{g}{i}", email=f"p{g}{i}@example.edu", clock=clock
                )
                for i in range(4)
            ]
            session.flush()
            group = propose_group(
                session, staff, name=f"G{g}", member_ids=[p.id for p in people], clock=clock
            )
            confirm_group(session, staff, group.id, clock=clock)
            node_ids.append(group.node_id)
    start = clock.now() + timedelta(days=2)
    pairs = [[node_ids[0], node_ids[1]], [node_ids[0], node_ids[2]]] * 3
    barrier = threading.Barrier(len(pairs))
    outcomes: list[str] = []

    def request(nodes: list[int]) -> None:
        barrier.wait()
        try:
            with unit_of_work(session_factory(engine), write=True) as session:
                request_reservation(
                    session,
                    staff,
                    node_ids=nodes,
                    starts_at=start,
                    ends_at=start + timedelta(hours=4),
                    clock=clock,
                )
            outcomes.append("booked")
        except Conflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=request, args=(p,)) for p in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Counter(outcomes) == {"booked": 1, "refused": 5}
    with Session(engine) as session:
        assert len(session.scalars(select(Reservation)).all()) == 1
    engine.dispose()
