"""Backup (issue 3): "a course survives export → import from SQLite into PostgreSQL
unchanged". The demo course (40 students, 8 groups, submissions, slack days, scores,
reservations, audit log) is exported from SQLite, imported into a fresh PostgreSQL database,
exported again, and the two documents are equal."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from scalable_ai.course.backup import export_course, import_course
from scalable_ai.course.clock import FixedClock, parse_instant
from scalable_ai.course.db import make_engine, unit_of_work, upgrade
from scalable_ai.course.demo import DEMO_CREDENTIALS, seed_demo
from scalable_ai.course.service import Actor
from scalable_ai.course.service.people import add_person
from scalable_ai.course.tables import AuditEntry, Group, Person, Reservation, SlackDayUse
from scalable_ai.errors import Conflict, UserError

DEMO_NOW = FixedClock(parse_instant("2026-03-05T10:00"))


@pytest.fixture(scope="module")
def demo_sqlite(new_sqlite_database):
    engine = make_engine(new_sqlite_database())
    upgrade(engine)
    with unit_of_work(engine) as session:
        seed_demo(session, DEMO_NOW)
    yield engine
    engine.dispose()


def test_the_demo_roster_has_forty_students_in_eight_groups_with_history(demo_sqlite):
    with unit_of_work(demo_sqlite) as session:
        students = session.scalar(
            select(func.count()).select_from(Person).where(Person.role == "student")
        )
        assert students == 40
        assert session.scalar(select(func.count()).select_from(Group)) == 8
        assert session.scalar(select(func.count()).select_from(SlackDayUse)) == 15
        assert session.scalar(select(func.count()).select_from(Reservation)) == 2
        staff = session.scalars(select(Person.name).where(Person.role == "staff")).all()
        assert {
            "Anant Sahai",
            "Jiantao Jiao",
            "Haocheng Xi",
            "Paul Zhou",
            "Venkat Srinivasan",
        } <= set(staff)
        emails = {p.email: p for p in session.scalars(select(Person))}
        assert all(emails[email].password_hash for _, email, _ in DEMO_CREDENTIALS)


@pytest.mark.postgres
def test_a_course_moves_from_sqlite_to_postgresql_unchanged(demo_sqlite, new_postgres_database):
    with unit_of_work(demo_sqlite) as session:
        exported = export_course(session, clock=DEMO_NOW)
    document = json.loads(json.dumps(exported))  # through a file's worth of JSON
    target = make_engine(new_postgres_database())
    upgrade(target)
    with unit_of_work(target) as session:
        counts = import_course(session, document)
    assert counts["people"] == 45 and counts["audit_log"] > 100
    with unit_of_work(target) as session:
        again = export_course(session, clock=DEMO_NOW)
        # ids continue after the imported rows (PostgreSQL sequences were advanced)
        person = add_person(
            session,
            Actor.local_staff(),
            name="New Student",
            email="new.student@example.edu",
            clock=DEMO_NOW,
        )
        session.flush()
        assert person.id == max(row["id"] for row in exported["tables"]["people"]) + 1
        assert session.scalar(select(func.count()).select_from(AuditEntry)) > 100
    assert again == exported
    target.dispose()


def test_an_import_goes_only_into_an_empty_database(demo_sqlite):
    with unit_of_work(demo_sqlite) as session:
        document = export_course(session, clock=DEMO_NOW)
    with pytest.raises(Conflict, match="not empty"), unit_of_work(demo_sqlite) as session:
        import_course(session, document)


def test_a_file_that_is_not_an_export_is_refused(sqlite_session):
    with pytest.raises(UserError) as caught:
        import_course(sqlite_session, {"tables": {}})
    assert caught.value.field == "file"
