"""The demo course's community side: seeded through the service layer at any course clock,
consistent with it (nothing happens before its time), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from scalable_ai.course.clock import BERKELEY, FixedClock
from scalable_ai.course.community.demo import seed_community_demo
from scalable_ai.course.demo import seed_demo
from scalable_ai.course.tables.community import (
    Attendance,
    ForumThread,
    QuestionnaireResponse,
    ScribeNote,
)


def test_the_demo_seeds_through_the_whole_semester_and_nothing_happens_early(empty_session):
    now = datetime(2026, 5, 20, 12, tzinfo=BERKELEY)
    clock = FixedClock(now)
    seed_demo(empty_session, clock)
    seed_community_demo(empty_session, clock)
    latest = max(empty_session.scalars(select(ForumThread.created_at)), default=None)
    assert latest is None or latest <= now
    answered = empty_session.scalar(select(func.count(QuestionnaireResponse.id)))
    assert answered == 40
    assert empty_session.scalar(select(func.count(Attendance.id))) > 0
    assert empty_session.scalar(select(func.count(ScribeNote.id))) > 0


@pytest.mark.postgres
def test_the_community_side_moves_from_sqlite_to_postgresql_unchanged(
    new_sqlite_database, new_postgres_database
):
    """Issue 3's backup carries every community table too (a PDF scribe note included)."""
    import json

    from scalable_ai.course.backup import export_course, import_course
    from scalable_ai.course.community.service import notes
    from scalable_ai.course.db import make_engine, unit_of_work, upgrade
    from scalable_ai.course.service import Actor
    from scalable_ai.course.tables import Lecture, Person, ScribeAssignment

    clock = FixedClock(datetime(2026, 3, 5, 10, tzinfo=BERKELEY))
    source = make_engine(new_sqlite_database())
    upgrade(source)
    with unit_of_work(source) as session:
        seed_demo(session, clock)
        seed_community_demo(session, clock)
        row = session.scalars(
            select(ScribeAssignment).order_by(ScribeAssignment.id).offset(20)
        ).first()
        person = session.get(Person, row.person_id)
        lecture_key = session.get(Lecture, row.lecture_id).key
        notes.submit_scribe_note(
            session,
            Actor.of(person),
            lecture_key,
            format="pdf",
            pdf=b"%PDF-1.4\n\x00\xff binary\n%%EOF",
            filename="n.pdf",
            sources_statement="none",
            clock=clock,
        )
    with unit_of_work(source) as session:
        exported = export_course(session, clock=clock)
    target = make_engine(new_postgres_database())
    upgrade(target)
    with unit_of_work(target) as session:
        import_course(session, json.loads(json.dumps(exported)))
    with unit_of_work(target) as session:
        again = export_course(session, clock=clock)
    assert again == exported
    assert len(exported["tables"]["forum_threads"]) > 0
    assert any(n["pdf"] for n in exported["tables"]["scribe_notes"])
    source.dispose()
    target.dispose()
