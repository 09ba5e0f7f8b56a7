"""The schedule in the database: "Staff can move, retitle or swap lectures ('guest speakers
and exact ordering are subject to change'); calendar events keep stable UIDs and raise
SEQUENCE so subscribed calendars update". Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from icalendar import Calendar

from scalable_ai.course.service import Actor
from scalable_ai.course.service import setup as service
from scalable_ai.course.service.schedule import calendar_ics
from scalable_ai.errors import Forbidden, UserError


def _events(session, clock) -> dict[str, tuple[str, int]]:
    calendar = Calendar.from_ical(calendar_ics(session, clock=clock))
    return {
        str(e["UID"]): (str(e["SUMMARY"]), int(e.get("SEQUENCE", 0)))
        for e in calendar.walk("VEVENT")
    }


def test_the_loaded_calendar_has_all_26_lectures_titled_as_in_the_syllabus(session, clock):
    titles = [title for title, _ in _events(session, clock).values()]
    assert len([t for t in titles if t.startswith("L") and ". " in t]) == 26
    assert "L7. Powering Pre-Training: NeMo Curator" in titles


def test_a_retitled_lecture_keeps_its_uid_and_raises_its_sequence(session, staff, clock):
    before = _events(session, clock)
    service.retitle_lecture(session, staff, "L5", title="NeMo AutoModel Deep Dive", clock=clock)
    after = _events(session, clock)
    assert set(after) == set(before)
    changed = [uid for uid in after if after[uid] != before[uid]]
    assert len(changed) == 1
    assert after[changed[0]] == ("L5. NeMo AutoModel Deep Dive", before[changed[0]][1] + 1)


def test_swapping_two_lectures_renumbers_them_and_audits_the_change(session, staff, clock):
    changed = service.swap_lectures(session, staff, "L5", "L6", clock=clock)
    assert {row.key for row in changed} == {"L5", "L6"}
    titles = [title for title, _ in _events(session, clock).values()]
    assert "L5. Introduction to Pre-Training" in titles


def test_a_lecture_cannot_move_to_a_recess_day(session, staff, clock):
    with pytest.raises(UserError, match="recess"):
        service.move_lecture(session, staff, "L19", day=date(2026, 3, 24), clock=clock)


def test_students_do_not_change_the_schedule(session, enroll, clock):
    (ada,) = enroll(1)
    with pytest.raises(Forbidden):
        service.retitle_lecture(session, Actor.of(ada), "L5", title="Mine", clock=clock)


def test_a_personal_feed_adds_scribing_slots_reservations_and_moved_deadlines(
    session, make_group, staff, clock
):
    from datetime import timedelta

    from scalable_ai.course.service import activities, nodes
    from scalable_ai.course.service.schedule import personal_calendar_ics
    from scalable_ai.course.service.slack import spend_slack_day

    mine, other = make_group(4), make_group(4)
    me = mine.members[0]
    activities.assign_scribes(session, staff, clock=clock)
    slot = activities.create_slot(
        session,
        staff,
        kind="checkoff",
        assignment="A1",
        starts_at=clock.now() + timedelta(days=6),
        ends_at=clock.now() + timedelta(days=6, minutes=30),
        clock=clock,
    )
    session.flush()
    activities.sign_up(session, Actor.of(me), slot.id, clock=clock)
    nodes.request_reservation(
        session,
        Actor.of(me),
        node_ids=[mine.node_id, other.node_id],
        starts_at=clock.now() + timedelta(days=1),
        ends_at=clock.now() + timedelta(days=1, hours=4),
        clock=clock,
    )
    spend_slack_day(session, staff, group_id=mine.id, assignment="A2", clock=clock)
    calendar = Calendar.from_ical(personal_calendar_ics(session, me, clock=clock))
    titles = [str(e["SUMMARY"]) for e in calendar.walk("VEVENT")]
    assert sum(t.startswith("You scribe L") for t in titles) == 2
    assert "Your group's checkoff" in titles
    assert any(t.startswith("Multi-node reservation") for t in titles)
    assert "A2 due for you (a slack day is applied)" in titles
    assert len([t for t in titles if t.startswith("L") and ". " in t]) == 26
