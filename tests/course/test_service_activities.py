"""Scribing ("each student is expected to scribe 2 lectures"), peer review ("each group will
provide a ... review of another group's report"), and sign-up slots ("checkoff slots by
sign-up", one per group per assignment). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from scalable_ai.course.service import Actor
from scalable_ai.course.service import activities as service
from scalable_ai.errors import Conflict, Forbidden, UserError


def test_each_student_scribes_two_lectures_and_every_lecture_has_a_scribe(
    session, enroll, staff, clock
):
    enroll(30)
    rows = service.assign_scribes(session, staff, seed=7, clock=clock)
    per_student = Counter(r.person_id for r in rows)
    assert set(per_student.values()) == {2}
    assert len({r.lecture_id for r in rows}) == 26


def test_the_scribe_deal_is_deterministic_for_a_seed(session, enroll, staff, clock):
    enroll(12)
    first = [
        (r.lecture_id, r.person_id)
        for r in service.assign_scribes(session, staff, seed=3, clock=clock)
    ]
    again = [
        (r.lecture_id, r.person_id)
        for r in service.assign_scribes(session, staff, seed=3, replace=True, clock=clock)
    ]
    assert first == again


def test_no_group_reviews_its_own_report(session, make_group, staff, clock):
    groups = [make_group(4) for _ in range(5)]
    rows = service.assign_peer_reviews(session, staff, seed=1, clock=clock)
    assert len(rows) == len(groups)
    assert all(r.reviewer_group_id != r.reviewed_group_id for r in rows)
    assert sorted(r.reviewed_group_id for r in rows) == sorted(g.id for g in groups)


def test_a_student_sees_only_their_groups_peer_reviews(session, make_group, staff, clock):
    groups = [make_group(4) for _ in range(4)]
    service.assign_peer_reviews(session, staff, clock=clock)
    mine = groups[0]
    rows = service.list_peer_reviews(session, Actor.of(mine.members[0]))
    assert len(rows) == 2
    assert all(mine.id in (r.reviewer_group_id, r.reviewed_group_id) for r in rows)


def test_one_checkoff_per_group_per_assignment(session, make_group, staff, clock):
    group = make_group(4)
    slots = [
        service.create_slot(
            session,
            staff,
            kind="checkoff",
            assignment="A1",
            starts_at=clock.now() + timedelta(days=6, hours=h),
            ends_at=clock.now() + timedelta(days=6, hours=h, minutes=20),
            capacity=2,
            clock=clock,
        )
        for h in (1, 2)
    ]
    session.flush()
    me = Actor.of(group.members[0])
    service.sign_up(session, me, slots[0].id, clock=clock)
    with pytest.raises(Conflict, match="one checkoff per group per assignment"):
        service.sign_up(session, me, slots[1].id, clock=clock)


def test_a_full_slot_is_refused(session, make_group, staff, clock):
    first, second = make_group(4), make_group(4)
    slot = service.create_slot(
        session,
        staff,
        kind="midterm_checkin",
        starts_at=clock.now() + timedelta(days=40),
        ends_at=clock.now() + timedelta(days=40, minutes=30),
        clock=clock,
    )
    session.flush()
    service.sign_up(session, Actor.of(first.members[0]), slot.id, clock=clock)
    with pytest.raises(Conflict, match="full"):
        service.sign_up(session, Actor.of(second.members[0]), slot.id, clock=clock)


def test_a_checkoff_slot_names_its_assignment(session, staff, clock):
    with pytest.raises(UserError) as caught:
        service.create_slot(
            session,
            staff,
            kind="checkoff",
            starts_at=clock.now() + timedelta(days=1),
            ends_at=clock.now() + timedelta(days=1, hours=1),
            clock=clock,
        )
    assert caught.value.field == "assignment"


def test_students_do_not_open_slots(session, enroll, clock):
    (ada,) = enroll(1)
    with pytest.raises(Forbidden):
        service.create_slot(
            session,
            Actor.of(ada),
            kind="midterm_checkin",
            starts_at=clock.now() + timedelta(days=1),
            ends_at=clock.now() + timedelta(days=1, hours=1),
            clock=clock,
        )
