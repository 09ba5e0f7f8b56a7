"""Gradescope import (issue 3): the gradebook CSV (SID, Name, Email, section_name, four
columns per assignment, Total Lateness) loads scores with a dry-run report first, and the late
policy applies to the lateness it reports. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from scalable_ai.course.gradescope import import_gradebook, parse_mapping, read_gradebook
from scalable_ai.course.service.slack import slack_balance
from scalable_ai.course.tables import Score, SlackDayUse
from scalable_ai.errors import UserError

HEADER = (
    "Name,SID,Email,section_name,Assignment 1,Assignment 1 - Max Points,"
    "Assignment 1 - Submission Time,Assignment 1 - Lateness (H:M:S),"
    "Total Lateness (H:M:S)"
)


def gradebook(rows: list[tuple[str, str, str, str, str]]) -> str:
    """rows: (name, sid, email, score, lateness)."""
    lines = [HEADER]
    for name, sid, email, score, lateness in rows:
        lines.append(
            f"{name},{sid},{email},101,{score},100,2026-02-10 23:00:00 -0800,{lateness},{lateness}"
        )
    return "\n".join(lines) + "\n"


def _count(session, table) -> int:
    return session.scalar(select(func.count()).select_from(table))


def test_the_gradebook_layout_is_read_with_lateness_in_hours_minutes_seconds():
    (entry,) = read_gradebook(gradebook([("Ada Ng", "1", "ada@example.edu", "91.5", "30:05:09")]))
    assert (entry.assignment, entry.score, entry.max_points) == ("Assignment 1", 91.5, 100)
    assert entry.lateness.total_seconds() == 30 * 3600 + 5 * 60 + 9


def test_a_dry_run_reports_and_stores_nothing(session, make_group, staff, clock):
    group = make_group(4)
    csv_text = gradebook([(p.name, p.sid, p.email, "88", "0:00:00") for p in group.members])
    report = import_gradebook(
        session, staff, csv_text, parse_mapping(["Assignment 1=A1"]), apply=False, clock=clock
    )
    assert report.count("recorded") == 4 and "Dry run" in report.text()
    assert _count(session, Score) == 0


def test_applying_records_scores(session, make_group, staff, clock):
    group = make_group(4)
    csv_text = gradebook([(p.name, p.sid, p.email, "88", "0:00:00") for p in group.members])
    import_gradebook(session, staff, csv_text, {"Assignment 1": "A1.code"}, apply=True, clock=clock)
    assert _count(session, Score) == 4


def test_late_within_24_hours_spends_one_slack_day_for_the_group(session, make_group, staff, clock):
    group = make_group(4)
    csv_text = gradebook([(p.name, p.sid, p.email, "80", "5:00:00") for p in group.members])
    report = import_gradebook(
        session, staff, csv_text, {"Assignment 1": "A1.code"}, apply=True, clock=clock
    )
    assert report.count("late_slack_day") == 1 and report.count("late_within_slack_day") == 3
    assert _count(session, SlackDayUse) == 4
    assert slack_balance(session, staff, group.members[2].id).left == 2


def test_more_than_24_hours_late_is_not_recorded_without_an_exception(
    session, make_group, staff, clock
):
    group = make_group(4)
    member = group.members[0]
    csv_text = gradebook([(member.name, member.sid, member.email, "95", "25:00:00")])
    report = import_gradebook(
        session, staff, csv_text, {"Assignment 1": "A1.code"}, apply=True, clock=clock
    )
    (line,) = report.lines
    assert line.outcome == "refused" and "approved exception" in line.message
    assert _count(session, Score) == 0


def test_unknown_students_are_reported_and_skipped(session, staff, clock):
    csv_text = gradebook([("Nobody", "999", "nobody@example.edu", "50", "0:00:00")])
    report = import_gradebook(
        session, staff, csv_text, {"Assignment 1": "A1.code"}, apply=True, clock=clock
    )
    assert report.count("unknown") == 1


def test_a_mapping_to_a_missing_gradescope_assignment_is_refused(session, staff, clock):
    with pytest.raises(UserError) as caught:
        import_gradebook(
            session, staff, gradebook([]), {"Homework 9": "A1.code"}, apply=False, clock=clock
        )
    assert caught.value.field == "map"


def test_bad_lateness_names_the_row():
    with pytest.raises(UserError, match="row 2"):
        read_gradebook(gradebook([("Ada", "1", "a@example.edu", "9", "soon")]))


def test_an_import_names_a_hand_in_under_an_exception_and_its_approver_in_words(
    session, make_group, staff, clock
):
    """Issue 13: it said ``late_within_slack_day`` and "approved by 3"."""
    from datetime import timedelta

    from scalable_ai.course.service import Actor
    from scalable_ai.course.service.course import assignment_by_key, due_at, settings_of
    from scalable_ai.course.service.people import add_person
    from scalable_ai.course.service.slack import grant_exception

    group = make_group(4)
    tess = add_person(
        session, staff, name="Tess Teaching", email="tess@example.edu", role="staff", clock=clock
    )
    session.flush()
    due = due_at(assignment_by_key(session, "A1"), settings_of(session))
    grant_exception(
        session,
        Actor.of(tess),
        group_id=group.id,
        assignment="A1",
        new_deadline=due + timedelta(days=3),
        reason="node outage",
        clock=clock,
    )
    member = group.members[0]
    report = import_gradebook(
        session,
        staff,
        gradebook([(member.name, member.sid, member.email, "90", "30:00:00")]),
        {"Assignment 1": "A1.code"},
        apply=True,
        clock=clock,
    )
    (line,) = report.lines
    assert line.outcome == "late_under_exception"
    assert "approved by Tess Teaching: node outage" in line.message
    assert "late, under an approved exception" in report.text()
    assert "late_" not in report.text()
