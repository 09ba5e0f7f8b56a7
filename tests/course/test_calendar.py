"""The schedule as iCalendar (RFC 5545, parsed back with ``icalendar``) and as Markdown."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from icalendar import Calendar

from scalable_ai.course.calendar import course_calendar, course_markdown, events_to_ical
from scalable_ai.course.clock import BERKELEY
from scalable_ai.course.policy.schedule import move_lecture, schedule_events
from scalable_ai.course.spec import load_spec

SPEC = load_spec()
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=BERKELEY)


def parsed(ics: bytes) -> Calendar:
    return Calendar.from_ical(ics)


def vevents(calendar: Calendar) -> list:
    return list(calendar.walk("VEVENT"))


def by_summary(calendar: Calendar) -> dict:
    return {str(e["SUMMARY"]): e for e in vevents(calendar)}


def test_calendar_has_all_26_lectures_titled_as_in_the_syllabus():
    events = by_summary(parsed(course_calendar(SPEC, NOW)))
    lectures = [s for s in events if s.startswith("L") and ". " in s]
    assert len(lectures) == 26
    assert "L1. Course Overview and the Modern AI Stack" in events
    assert (
        "L17. Deployment Preparation: Speculative Decoding, Quantization, Pruning, and NAS"
    ) in events
    l1 = events["L1. Course Overview and the Modern AI Stack"]
    assert l1.decoded("DTSTART") == datetime(2026, 1, 20, 9, 30, tzinfo=BERKELEY)
    assert l1.decoded("DTEND") == datetime(2026, 1, 20, 11, 0, tzinfo=BERKELEY)
    assert str(l1["LOCATION"]) == "521 Cory Hall"


def test_calendar_has_every_deadline_at_the_course_deadline_time():
    events = by_summary(parsed(course_calendar(SPEC, NOW)))
    expected = [f"{a.key} due ({a.title})" for a in SPEC.assignments] + [
        "Group formation due",
        "Hypothesis statement v1 due",
        "Project proposal v2 due",
        "Midterm check-in report due",
        "Draft project report due",
        "Peer review due",
        "Final deliverables due",
        "Impact update due",
    ]
    for title in expected:
        start = events[title].decoded("DTSTART")
        assert start.astimezone(BERKELEY).time() == time(23, 59), title
    assert events["A1 due (Parallelism Assignment)"].decoded("DTSTART") == datetime(
        2026, 2, 10, 23, 59, tzinfo=BERKELEY
    )


def test_releases_recess_and_poster_session_are_all_day():
    events = by_summary(parsed(course_calendar(SPEC, NOW)))
    for title in (
        "A1 released (Parallelism Assignment)",
        "Research directions released",
        "Poster session (RRR Week)",
    ):
        assert type(events[title].decoded("DTSTART")) is date, title
    recess = [
        e
        for e in vevents(parsed(course_calendar(SPEC, NOW)))
        if str(e["SUMMARY"]) == "Spring Recess"
    ]
    assert [e.decoded("DTSTART") for e in recess] == [date(2026, 3, 24), date(2026, 3, 26)]


def test_presentation_sessions_are_in_the_lecture_slot():
    events = by_summary(parsed(course_calendar(SPEC, NOW)))
    session_b = events["Project Presentations (Session B)"]
    assert session_b.decoded("DTSTART") == datetime(2026, 4, 30, 9, 30, tzinfo=BERKELEY)


def test_calendar_is_valid_rfc_5545():
    ics = course_calendar(SPEC, NOW)
    calendar = parsed(ics)
    assert str(calendar["VERSION"]) == "2.0" and str(calendar["PRODID"])
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["America/Los_Angeles"]
    assert calendar.get_missing_tzids() == set()
    uids = [str(e["UID"]) for e in vevents(calendar)]
    assert len(uids) == len(set(uids))
    for event in vevents(calendar):
        assert event.decoded("DTSTAMP") == NOW.astimezone(UTC)
        assert "SEQUENCE" in event and "DTSTART" in event
    assert all(len(line) <= 75 for line in ics.split(b"\r\n"))  # folded lines (§3.1)
    assert ics.startswith(b"BEGIN:VCALENDAR\r\n") and ics.endswith(b"END:VCALENDAR\r\n")


def test_a_moved_lecture_keeps_its_uid_and_raises_its_sequence():
    before = by_summary(parsed(course_calendar(SPEC, NOW)))
    lectures = move_lecture(SPEC.lectures, "L26", date(2026, 5, 7), recess=SPEC.recess)
    events = schedule_events(
        lectures,
        assignments=SPEC.assignments,
        milestones=SPEC.milestones,
        recess=SPEC.recess,
        meeting=SPEC.meeting,
        settings=SPEC.settings,
    )
    after = by_summary(parsed(events_to_ical(events, NOW + timedelta(days=1))))
    title = "L26. Multi-Agent Systems and Architecture"
    assert str(after[title]["UID"]) == str(before[title]["UID"])
    assert int(after[title]["SEQUENCE"]) == int(before[title]["SEQUENCE"]) + 1
    assert after[title].decoded("DTSTART").date() == date(2026, 5, 7)


def test_markdown_schedule_lists_parts_lectures_and_deadlines():
    text = course_markdown(SPEC)
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows[0] == "| Date | Lecture / Event | Notes |"
    assert sum(1 for r in rows if "| L" in r and "09:30" in r) == 26
    assert "| | **Part 4: Efficient Inference** | |" in text
    assert "| Tue Feb 10 23:59 | *A1 due (Parallelism Assignment)* |" in text
    assert "| Tue Mar 24 | *Spring Recess* | No class |" in text
    assert "Guest (Curator)" in text
    assert "Sparse & Long-Context" in text
