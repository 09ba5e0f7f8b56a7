"""``sai course <records> ...`` for coursework: assignments, lectures, submissions, slack
days, exceptions, grades, scribes, peer reviews and checkoff slots (local staff; audited)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Annotated

import typer

from scalable_ai.course.cli import (
    course_clock,
    database,
    records_app,
    staff_actor,
    write_file,
)
from scalable_ai.course.clock import parse_instant
from scalable_ai.course.service import (
    activities,
    grades,
    groups,
    people,
    setup,
    slack,
    submissions,
)
from scalable_ai.course.service.actors import Actor
from scalable_ai.course.service.course import due_at, settings_of
from scalable_ai.errors import UserError

assignment_app = records_app("Assignments and their deadlines.")
lecture_app = records_app("Lectures: move, retitle, swap (calendars update).")
submission_app = records_app("Submissions with the deadline that applied.")
slack_app = records_app("Slack days: balances, spend, reverse, the ledger.")
exception_app = records_app("Approved exceptions: list, grant, revoke.")
grade_app = records_app("Scores and grades: set, show, the grade book.")
scribe_app = records_app("Scribe assignments (2 lectures per student).")
review_app = records_app("Peer-review assignments (never a group's own report).")
checkoff_app = records_app("Checkoff sign-up slots (one per group per assignment).")


@assignment_app.command("list")
def list_assignments() -> None:
    """A1–A5 with release dates and deadlines (Berkeley time)."""
    from sqlalchemy import select

    from scalable_ai.course.tables import Assignment

    with database() as session:
        settings = settings_of(session)
        for a in session.scalars(select(Assignment).order_by(Assignment.key)):
            typer.echo(
                f"{a.key}  {a.title:<36} released {a.released_on}  due "
                f"{due_at(a, settings):%Y-%m-%d %H:%M %Z}"
            )


@lecture_app.command("move")
def move_lecture(key: str, day: str) -> None:
    """Move a lecture to another Tuesday/Thursday (YYYY-MM-DD)."""
    with database() as session:
        changed = setup.move_lecture(
            session, staff_actor(), key, day=_day(day), clock=course_clock()
        )
        typer.echo("changed: " + ", ".join(f"{r.key} (L{r.number} {r.held_on})" for r in changed))


@lecture_app.command("retitle")
def retitle_lecture(key: str, title: str) -> None:
    """Give a lecture a new title; its calendar UID stays."""
    with database() as session:
        setup.retitle_lecture(session, staff_actor(), key, title=title, clock=course_clock())
        typer.echo(f"{key} is now {title!r}")


@lecture_app.command("swap")
def swap_lectures(first: str, second: str) -> None:
    """Exchange the days of two lectures."""
    with database() as session:
        setup.swap_lectures(session, staff_actor(), first, second, clock=course_clock())
        typer.echo(f"swapped {first} and {second}")


@submission_app.command("list")
def list_submissions(assignment: Annotated[str | None, typer.Option()] = None) -> None:
    """Submissions with the deadline that applied to each."""
    with database() as session:
        for s in submissions.list_submissions(session, staff_actor(), assignment=assignment):
            late = " (slack day)" if s.slack_day_used else ""
            typer.echo(
                f"{s.id:>4}  group {s.group_id}  {s.submitted_at:%Y-%m-%d %H:%M} UTC  "
                f"deadline {s.deadline_applied:%Y-%m-%d %H:%M} UTC{late}  {s.source}"
            )


@submission_app.command("hand-in")
def hand_in(
    email: Annotated[str, typer.Argument(help="The student handing in (for their group).")],
    assignment: Annotated[str, typer.Argument(help="The assignment, e.g. A3.")],
    link: Annotated[str, typer.Option(help="The commit or release handed in (https).")],
    external_code: Annotated[str, typer.Option(help="Integrity: external code used.")],
    sources: Annotated[str, typer.Option(help="Integrity: sources consulted.")],
    ai_assistance: Annotated[str, typer.Option(help="Integrity: AI assistance used.")],
    confirm_slack_day: Annotated[
        bool, typer.Option(help="Spend a slack day if it is up to 24 hours late.")
    ] = False,
) -> None:
    """Record a student's hand-in now on the course clock (one sent by e-mail during an
    outage): the same rules as the page (late within 24 hours needs --confirm-slack-day)."""
    with database() as session:
        person = people.person_by_email(session, staff_actor(), email)
        row = submissions.submit(
            session,
            Actor.of(person),
            assignment=assignment,
            integrity={
                "external_code": external_code,
                "sources": sources,
                "ai_assistance": ai_assistance,
            },
            confirm_slack_day=confirm_slack_day,
            link=link,
            clock=course_clock(),
        )
        late = " with a slack day" if row.slack_day_used else ""
        typer.echo(f"handed in {assignment} for group {row.group_id}{late}: {row.deadline_reason}")


@slack_app.command("show")
def show_slack(email: str) -> None:
    """A student's slack days: used, left, and on which assignments."""
    with database() as session:
        actor = staff_actor()
        balance = slack.slack_balance(
            session, actor, people.person_by_email(session, actor, email).id
        )
        typer.echo(f"{email}: {balance.used} used, {balance.left} left of {balance.total}")
        for note in balance.notes:
            typer.echo(f"  {note}")


@slack_app.command("spend")
def spend(group: str, assignment: str) -> None:
    """Apply a slack day for a group (charged to every member)."""
    with database() as session:
        actor = staff_actor()
        rows = slack.spend_slack_day(
            session,
            actor,
            group_id=groups.group_by_name(session, actor, group).id,
            assignment=assignment,
            clock=course_clock(),
        )
        typer.echo(f"slack day on {assignment.upper()} charged to {len(rows)} members of {group}")


@slack_app.command("reverse")
def reverse(entry_id: int, reason: Annotated[str, typer.Option()]) -> None:
    """Reverse a slack day (all entries of that spending)."""
    with database() as session:
        rows = slack.reverse_slack_day(
            session, staff_actor(), entry_id, reason=reason, clock=course_clock()
        )
        typer.echo(f"reversed {len(rows)} ledger entries")


@slack_app.command("ledger")
def ledger() -> None:
    """Every slack-day ledger entry."""
    with database() as session:
        for row in slack.slack_ledger(session, staff_actor()):
            state = f"reversed ({row.reason})" if row.revoked_at else "live"
            typer.echo(
                f"{row.id:>4}  person {row.person_id:<4} assignment {row.assignment_id}  "
                f"{row.spent_at:%Y-%m-%d %H:%M} UTC  {state}"
            )


@exception_app.command("list")
def list_exceptions() -> None:
    """Every approved exception."""
    with database() as session:
        for e in slack.list_exceptions(session, staff_actor()):
            who = f"person {e.person_id}" if e.person_id else f"group {e.group_id}"
            state = "revoked" if e.revoked_at else "approved"
            typer.echo(
                f"{e.id:>3}  {who:<10} until {e.new_deadline:%Y-%m-%d %H:%M} UTC  "
                f"{state}  {e.reason}"
            )


@exception_app.command("grant")
def grant(
    until: Annotated[str, typer.Option(help="New deadline (ISO; Berkeley time if naive).")],
    reason: Annotated[str, typer.Option()],
    student: Annotated[str | None, typer.Option(help="Student email.")] = None,
    group: Annotated[str | None, typer.Option(help="Group name.")] = None,
    assignment: Annotated[str | None, typer.Option()] = None,
    milestone: Annotated[str | None, typer.Option()] = None,
    shorten: Annotated[
        bool, typer.Option(help="Confirm a deadline earlier than the regular one.")
    ] = False,
) -> None:
    """Approve an exception: a new deadline for a student or a group."""
    with database() as session:
        actor = staff_actor()
        row = slack.grant_exception(
            session,
            actor,
            person_id=people.person_by_email(session, actor, student).id if student else None,
            group_id=groups.group_by_name(session, actor, group).id if group else None,
            assignment=assignment,
            milestone=milestone,
            new_deadline=parse_instant(until, field="--until"),
            reason=reason,
            clock=course_clock(),
            shorten=shorten,
        )
        session.flush()
        typer.echo(f"exception {row.id} approved until {row.new_deadline:%Y-%m-%d %H:%M} UTC")


@exception_app.command("revoke")
def revoke(exception_id: int) -> None:
    """Revoke an exception."""
    with database() as session:
        slack.revoke_exception(session, staff_actor(), exception_id, clock=course_clock())
        typer.echo(f"revoked exception {exception_id}")


@grade_app.command("set")
def set_score(
    email: str,
    item: str,
    points: float,
    max_points: Annotated[float, typer.Option("--max")] = 100.0,
    comment: Annotated[str, typer.Option()] = "",
) -> None:
    """Record a score, e.g. `A1.code 42 --max 50`."""
    with database() as session:
        actor = staff_actor()
        grades.record_score(
            session,
            actor,
            person_id=people.person_by_email(session, actor, email).id,
            item=item,
            points=points,
            max_points=max_points,
            comment=comment,
            clock=course_clock(),
        )
        typer.echo(f"{email} {item}: {points:g}/{max_points:g}")


@grade_app.command("show")
def show_grade(email: str) -> None:
    """A student's running grade (pending work is pending, never 0): standing, projected
    total, the letter once everything is graded, and the notes explaining them."""
    with database() as session:
        actor = staff_actor()
        running = grades.grade_of(
            session, actor, people.person_by_email(session, actor, email).id, clock=course_clock()
        ).running
        assert running is not None
        if running.complete:
            typer.echo(f"{email}: {running.final.total:.1f} → {running.letter} (final)")
        else:
            projected = (
                "nothing graded yet"
                if running.projected is None
                else f"projected {running.projected:.1f} ({running.projected_letter}) "
                f"from {running.graded_points:g} of 100 points graded"
            )
            typer.echo(f"{email}: {running.standing}; {projected}")
        for reason in running.reasons:
            typer.echo(f"  {reason}")
        for note in running.notes:
            typer.echo(f"  {note}")


@grade_app.command("book")
def book() -> None:
    """The grade book: every student's standing, projected total and final letter."""
    with database() as session:
        for g in grades.gradebook(session, staff_actor(), clock=course_clock()):
            r = g.running
            assert r is not None
            total = r.final.total if r.complete else r.projected
            shown = "     —" if total is None else f"{total:6.1f}"
            typer.echo(f"{g.person.email:<36} {shown} {r.letter or '·':<3} {r.standing}")


@grade_app.command("export")
def export_grades(out: Annotated[Path, typer.Option("--out", help="CSV file to write.")]) -> None:
    """The grade book as CSV: one row per student, each component's score, total, letter
    (text cells made safe for a spreadsheet, ``course.spreadsheet``)."""
    from scalable_ai.course.spreadsheet import csv_text

    with database() as session:
        book_rows = grades.gradebook(session, staff_actor(), clock=course_clock())
        keys = [c.key for c in book_rows[0].report.components] if book_rows else []
        rows: list[list[object]] = [["sid", "email", "name", *keys, "total", "letter", "passed"]]
        for g in book_rows:
            scores = {c.key: c.score for c in g.report.components}
            rows.append(
                [
                    g.person.sid or "",
                    g.person.email,
                    g.person.name,
                    *(f"{scores[k]:.2f}" if scores[k] is not None else "" for k in keys),
                    f"{g.report.total:.2f}",
                    g.report.letter,
                    g.report.passed,
                ]
            )
        write_file(out, csv_text(rows))
        typer.echo(f"wrote {len(book_rows)} students to {out}")


@scribe_app.command("assign")
def assign_scribes(seed: int = 0, replace: bool = False) -> None:
    """Deal 2 lectures to every student (balanced, seeded)."""
    with database() as session:
        rows = activities.assign_scribes(
            session, staff_actor(), seed=seed, replace=replace, clock=course_clock()
        )
        typer.echo(f"{len(rows)} scribe assignments")


@scribe_app.command("list")
def list_scribes() -> None:
    """The scribe schedule."""
    with database() as session:
        for row in activities.list_scribes(session, staff_actor()):
            typer.echo(f"lecture {row.lecture_id:>3}  person {row.person_id}")


@review_app.command("assign")
def assign_reviews(seed: int = 0, replace: bool = False) -> None:
    """Pair every group with another group's draft (never its own)."""
    with database() as session:
        rows = activities.assign_peer_reviews(
            session, staff_actor(), seed=seed, replace=replace, clock=course_clock()
        )
        typer.echo(f"{len(rows)} peer-review assignments")


@review_app.command("list")
def list_reviews() -> None:
    """The peer-review pairs and their due date."""
    with database() as session:
        for row in activities.list_peer_reviews(session, staff_actor()):
            typer.echo(
                f"group {row.reviewer_group_id} reviews group {row.reviewed_group_id}, "
                f"due {row.due_at:%Y-%m-%d %H:%M} UTC"
            )


@checkoff_app.command("open")
def open_slot(
    assignment: str, start: str, minutes: int = 20, capacity: int = 1, location: str = ""
) -> None:
    """Open a checkoff slot for an assignment (START is ISO, Berkeley time)."""
    with database() as session:
        begins = parse_instant(start, field="start")
        slot = activities.create_slot(
            session,
            staff_actor(),
            kind="checkoff",
            assignment=assignment,
            starts_at=begins,
            ends_at=begins + timedelta(minutes=minutes),
            capacity=capacity,
            location=location,
            clock=course_clock(),
        )
        session.flush()
        typer.echo(f"slot {slot.id} for {assignment.upper()} at {begins:%Y-%m-%d %H:%M}")


@checkoff_app.command("list")
def list_slots() -> None:
    """Every sign-up slot and how full it is."""
    with database() as session:
        for slot in activities.list_slots(session, staff_actor()):
            taken = len(activities.slot_signups(session, slot.id))
            typer.echo(
                f"{slot.id:>3}  {slot.kind:<16} {slot.starts_at:%Y-%m-%d %H:%M} UTC  "
                f"{taken}/{slot.capacity} taken  {slot.location}"
            )


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"not a date (YYYY-MM-DD): {text!r}", field="day") from None


APPS: dict[str, typer.Typer] = {
    "assignments": assignment_app,
    "lectures": lecture_app,
    "submissions": submission_app,
    "slack": slack_app,
    "exceptions": exception_app,
    "grades": grade_app,
    "scribes": scribe_app,
    "peer-reviews": review_app,
    "checkoffs": checkoff_app,
}
