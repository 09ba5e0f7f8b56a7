"""``sai course <records> ...``: the roster, groups, nodes, lectures, slack days,
exceptions, grades, scribes, peer reviews, checkoffs and API tokens, from the terminal."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated

import typer

from scalable_ai.course.cli import course_clock, database, staff_actor
from scalable_ai.course.clock import parse_instant
from scalable_ai.course.service import (
    Actor,
    activities,
    credentials,
    grades,
    groups,
    nodes,
    people,
    setup,
    slack,
    submissions,
)
from scalable_ai.course.service.course import due_at, node_by_name, settings_of
from scalable_ai.errors import UserError


def _app(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, add_completion=False)


students = _app("Students: list, add, show.")
staff = _app("Teaching staff: list, add.")
group_app = _app("Groups: list, propose, confirm, move students.")
node_app = _app("Nodes: list, set IPs, authorized_keys.")
reservation_app = _app("Multi-node reservations: list, plan, cancel.")
assignment_app = _app("Assignments and their deadlines.")
lecture_app = _app("Lectures: move, retitle, swap (calendars update).")
submission_app = _app("Submissions with the deadline that applied.")
slack_app = _app("Slack days: balances, spend, reverse, the ledger.")
exception_app = _app("Approved exceptions: list, grant, revoke.")
grade_app = _app("Scores and grades: set, show, the grade book.")
scribe_app = _app("Scribe assignments (2 lectures per student).")
review_app = _app("Peer-review assignments (never a group's own report).")
checkoff_app = _app("Checkoff sign-up slots (one per group per assignment).")
token_app = _app("Personal API tokens for the JSON API.")


@students.command("list")
def list_students() -> None:
    with database() as session:
        for p in people.list_people(session, staff_actor(), role="student"):
            typer.echo(f"{p.id:>4}  {p.sid or '-':<12} {p.email:<36} {p.name}")


@students.command("add")
def add_student(name: str, email: str, sid: Annotated[str | None, typer.Option()] = None) -> None:
    with database() as session:
        p = people.add_person(session, staff_actor(), name=name, email=email, sid=sid,
                              clock=course_clock())
        session.flush()
        typer.echo(f"added student {p.id} {p.email}")


@students.command("show")
def show_student(email: str) -> None:
    with database() as session:
        actor = staff_actor()
        p = people.person_by_email(session, actor, email)
        group = groups.my_group(session, Actor.of(p))
        balance = slack.slack_balance(session, actor, p.id)
        typer.echo(f"{p.name} <{p.email}> SID {p.sid or '-'}; group: "
                   f"{group.name if group else '(none)'}; slack days left {balance.left}"
                   f"/{balance.total}")


@staff.command("list")
def list_staff() -> None:
    with database() as session:
        for p in people.list_staff(session):
            typer.echo(f"{p.id:>4}  {p.email:<36} {p.name} ({p.staff_title or 'staff'})")


@staff.command("add")
def add_staff(name: str, email: str, title: Annotated[str, typer.Option()] = "Teaching") -> None:
    with database() as session:
        p = people.add_person(session, staff_actor(), name=name, email=email, role="staff",
                              staff_title=title, clock=course_clock())
        session.flush()
        typer.echo(f"added staff {p.id} {p.email}")


@group_app.command("list")
def list_groups() -> None:
    with database() as session:
        for g in groups.list_groups(session, staff_actor()):
            node = f"{g.node.name} {g.node.external_ip}" if g.node else "(no node)"
            state = "confirmed" if g.confirmed_at else "forming"
            typer.echo(f"{g.id:>3}  {g.name:<24} {state:<9} {node:<24} "
                       + ", ".join(p.email for p in g.members))


@group_app.command("propose")
def propose(name: str, emails: list[str],
            confirm: Annotated[bool, typer.Option(help="Confirm and assign a node.")] = True
            ) -> None:
    with database() as session:
        actor = staff_actor()
        ids = [people.person_by_email(session, actor, e).id for e in emails]
        group = groups.propose_group(session, actor, name=name, member_ids=ids,
                                     clock=course_clock())
        if confirm:
            groups.confirm_group(session, actor, group.id, clock=course_clock())
        typer.echo(f"group {group.id} {group.name}: {len(ids)} members"
                   + (f", node {group.node.name}" if group.node else ""))


@group_app.command("confirm")
def confirm(name: str) -> None:
    with database() as session:
        actor = staff_actor()
        group = groups.confirm_group(session, actor, groups.group_by_name(session, actor,
                                                                          name).id,
                                     clock=course_clock())
        typer.echo(f"confirmed {group.name} on {group.node.name if group.node else '-'}")


@group_app.command("move")
def move(email: str, to: Annotated[str | None, typer.Option(help="Group name; omit to "
                                                             "remove from every group.")] = None
         ) -> None:
    with database() as session:
        actor = staff_actor()
        person = people.person_by_email(session, actor, email)
        target = groups.group_by_name(session, actor, to).id if to else None
        groups.move_student(session, actor, person.id, to_group_id=target, clock=course_clock())
        typer.echo(f"moved {email} to {to or '(no group)'}")


@node_app.command("list")
def list_nodes() -> None:
    with database() as session:
        for n in nodes.list_nodes(session, staff_actor()):
            owner = nodes.node_owner(session, n.id)
            typer.echo(f"{n.name:<8} {n.external_ip:<16} {n.gpus}xGPU  "
                       f"{owner.name if owner else '(free)'}")


@node_app.command("set-ip")
def set_ip(name: str, ip: str) -> None:
    with database() as session:
        node = nodes.set_node_ip(session, staff_actor(), node_by_name(session, name).id, ip=ip,
                                 clock=course_clock())
        typer.echo(f"{node.name} is at {node.external_ip}")


@node_app.command("authorized-keys")
def authorized_keys(name: str) -> None:
    with database() as session:
        typer.echo(nodes.authorized_keys(session, staff_actor(),
                                         node_by_name(session, name).id, clock=course_clock()),
                   nl=False)


@reservation_app.command("list")
def list_reservations() -> None:
    with database() as session:
        for r in nodes.list_reservations(session, staff_actor()):
            state = ("cancelled" if r.cancelled_at else "consented" if r.consented
                     else "awaiting consent")
            typer.echo(f"{r.id:>3}  {r.starts_at:%Y-%m-%d %H:%M}–{r.ends_at:%Y-%m-%d %H:%M} UTC "
                       f"{state:<17} " + ", ".join(f"{n.node.name} ({n.group.name})"
                                                   for n in r.nodes))


@reservation_app.command("plan")
def plan(reservation_id: int) -> None:
    with database() as session:
        result = nodes.reservation_plan(session, staff_actor(), reservation_id,
                                        clock=course_clock())
        typer.echo("# hostfile\n" + result.hostfile + "# torchrun\n" + result.torchrun_command)


@reservation_app.command("cancel")
def cancel(reservation_id: int) -> None:
    with database() as session:
        nodes.cancel_reservation(session, staff_actor(), reservation_id, clock=course_clock())
        typer.echo(f"cancelled reservation {reservation_id}")


@assignment_app.command("list")
def list_assignments() -> None:
    from sqlalchemy import select

    from scalable_ai.course.tables import Assignment

    with database() as session:
        settings = settings_of(session)
        for a in session.scalars(select(Assignment).order_by(Assignment.key)):
            typer.echo(f"{a.key}  {a.title:<36} released {a.released_on}  due "
                       f"{due_at(a, settings):%Y-%m-%d %H:%M %Z}")


@lecture_app.command("move")
def move_lecture(key: str, day: str) -> None:
    with database() as session:
        changed = setup.move_lecture(session, staff_actor(), key, day=_day(day),
                                     clock=course_clock())
        typer.echo("changed: " + ", ".join(f"{r.key} (L{r.number} {r.held_on})" for r in changed))


@lecture_app.command("retitle")
def retitle_lecture(key: str, title: str) -> None:
    with database() as session:
        setup.retitle_lecture(session, staff_actor(), key, title=title, clock=course_clock())
        typer.echo(f"{key} is now {title!r}")


@lecture_app.command("swap")
def swap_lectures(first: str, second: str) -> None:
    with database() as session:
        setup.swap_lectures(session, staff_actor(), first, second, clock=course_clock())
        typer.echo(f"swapped {first} and {second}")


@submission_app.command("list")
def list_submissions(assignment: Annotated[str | None, typer.Option()] = None) -> None:
    with database() as session:
        for s in submissions.list_submissions(session, staff_actor(), assignment=assignment):
            late = " (slack day)" if s.slack_day_used else ""
            typer.echo(f"{s.id:>4}  group {s.group_id}  {s.submitted_at:%Y-%m-%d %H:%M} UTC  "
                       f"deadline {s.deadline_applied:%Y-%m-%d %H:%M} UTC{late}  {s.source}")


@slack_app.command("show")
def show_slack(email: str) -> None:
    with database() as session:
        actor = staff_actor()
        balance = slack.slack_balance(session, actor,
                                      people.person_by_email(session, actor, email).id)
        typer.echo(f"{email}: {balance.used} used, {balance.left} left of {balance.total}")
        for note in balance.notes:
            typer.echo(f"  {note}")


@slack_app.command("spend")
def spend(group: str, assignment: str) -> None:
    with database() as session:
        actor = staff_actor()
        rows = slack.spend_slack_day(session, actor,
                                     group_id=groups.group_by_name(session, actor, group).id,
                                     assignment=assignment, clock=course_clock())
        typer.echo(f"slack day on {assignment.upper()} charged to {len(rows)} members of {group}")


@slack_app.command("reverse")
def reverse(entry_id: int, reason: Annotated[str, typer.Option()]) -> None:
    with database() as session:
        rows = slack.reverse_slack_day(session, staff_actor(), entry_id, reason=reason,
                                       clock=course_clock())
        typer.echo(f"reversed {len(rows)} ledger entries")


@slack_app.command("ledger")
def ledger() -> None:
    with database() as session:
        for row in slack.slack_ledger(session, staff_actor()):
            state = f"reversed ({row.reason})" if row.revoked_at else "live"
            typer.echo(f"{row.id:>4}  person {row.person_id:<4} assignment {row.assignment_id}  "
                       f"{row.spent_at:%Y-%m-%d %H:%M} UTC  {state}")


@exception_app.command("list")
def list_exceptions() -> None:
    with database() as session:
        for e in slack.list_exceptions(session, staff_actor()):
            who = f"person {e.person_id}" if e.person_id else f"group {e.group_id}"
            state = "revoked" if e.revoked_at else "approved"
            typer.echo(f"{e.id:>3}  {who:<10} until {e.new_deadline:%Y-%m-%d %H:%M} UTC  "
                       f"{state}  {e.reason}")


@exception_app.command("grant")
def grant(
    until: Annotated[str, typer.Option(help="New deadline (ISO; Berkeley time if naive).")],
    reason: Annotated[str, typer.Option()],
    student: Annotated[str | None, typer.Option(help="Student email.")] = None,
    group: Annotated[str | None, typer.Option(help="Group name.")] = None,
    assignment: Annotated[str | None, typer.Option()] = None,
    milestone: Annotated[str | None, typer.Option()] = None,
) -> None:
    with database() as session:
        actor = staff_actor()
        row = slack.grant_exception(
            session, actor,
            person_id=people.person_by_email(session, actor, student).id if student else None,
            group_id=groups.group_by_name(session, actor, group).id if group else None,
            assignment=assignment, milestone=milestone,
            new_deadline=parse_instant(until, field="--until"), reason=reason,
            clock=course_clock())
        session.flush()
        typer.echo(f"exception {row.id} approved until {row.new_deadline:%Y-%m-%d %H:%M} UTC")


@exception_app.command("revoke")
def revoke(exception_id: int) -> None:
    with database() as session:
        slack.revoke_exception(session, staff_actor(), exception_id, clock=course_clock())
        typer.echo(f"revoked exception {exception_id}")


@grade_app.command("set")
def set_score(email: str, item: str, points: float,
              max_points: Annotated[float, typer.Option("--max")] = 100.0,
              comment: Annotated[str, typer.Option()] = "") -> None:
    with database() as session:
        actor = staff_actor()
        grades.record_score(session, actor, person_id=people.person_by_email(
            session, actor, email).id, item=item, points=points, max_points=max_points,
            comment=comment, clock=course_clock())
        typer.echo(f"{email} {item}: {points:g}/{max_points:g}")


@grade_app.command("show")
def show_grade(email: str) -> None:
    with database() as session:
        actor = staff_actor()
        report = grades.grade_of(session, actor,
                                 people.person_by_email(session, actor, email).id).report
        typer.echo(f"{email}: {report.total:.1f} → {report.letter}"
                   f"{'' if report.passed else ' (class failed: a component is unsatisfactory)'}")
        for note in report.notes:
            typer.echo(f"  {note.message}")


@grade_app.command("book")
def book() -> None:
    with database() as session:
        for g in grades.gradebook(session, staff_actor()):
            typer.echo(f"{g.person.email:<36} {g.report.total:6.1f} {g.report.letter:<3} "
                       f"{'pass' if g.report.passed else 'FAIL'}")


@scribe_app.command("assign")
def assign_scribes(seed: int = 0, replace: bool = False) -> None:
    with database() as session:
        rows = activities.assign_scribes(session, staff_actor(), seed=seed, replace=replace,
                                         clock=course_clock())
        typer.echo(f"{len(rows)} scribe assignments")


@scribe_app.command("list")
def list_scribes() -> None:
    with database() as session:
        for row in activities.list_scribes(session, staff_actor()):
            typer.echo(f"lecture {row.lecture_id:>3}  person {row.person_id}")


@review_app.command("assign")
def assign_reviews(seed: int = 0, replace: bool = False) -> None:
    with database() as session:
        rows = activities.assign_peer_reviews(session, staff_actor(), seed=seed,
                                              replace=replace, clock=course_clock())
        typer.echo(f"{len(rows)} peer-review assignments")


@review_app.command("list")
def list_reviews() -> None:
    with database() as session:
        for row in activities.list_peer_reviews(session, staff_actor()):
            typer.echo(f"group {row.reviewer_group_id} reviews group {row.reviewed_group_id}, "
                       f"due {row.due_at:%Y-%m-%d %H:%M} UTC")


@checkoff_app.command("open")
def open_slot(assignment: str, start: str, minutes: int = 20, capacity: int = 1,
              location: str = "") -> None:
    with database() as session:
        begins = parse_instant(start, field="start")
        slot = activities.create_slot(session, staff_actor(), kind="checkoff",
                                      assignment=assignment, starts_at=begins,
                                      ends_at=begins + timedelta(minutes=minutes),
                                      capacity=capacity, location=location,
                                      clock=course_clock())
        session.flush()
        typer.echo(f"slot {slot.id} for {assignment.upper()} at {begins:%Y-%m-%d %H:%M}")


@checkoff_app.command("list")
def list_slots() -> None:
    with database() as session:
        for slot in activities.list_slots(session, staff_actor()):
            taken = len(activities.slot_signups(session, slot.id))
            typer.echo(f"{slot.id:>3}  {slot.kind:<16} {slot.starts_at:%Y-%m-%d %H:%M} UTC  "
                       f"{taken}/{slot.capacity} taken  {slot.location}")


@token_app.command("create")
def create_token(email: str, name: Annotated[str, typer.Option()] = "script") -> None:
    """Make a personal API token (printed once) for ``Authorization: Bearer``."""
    with database() as session:
        actor = staff_actor()
        _row, token = credentials.create_api_token(
            session, actor, person_id=people.person_by_email(session, actor, email).id,
            name=name, clock=course_clock())
        typer.echo(token)


@token_app.command("revoke")
def revoke_token(token_id: int) -> None:
    with database() as session:
        credentials.revoke_api_token(session, staff_actor(), token_id, clock=course_clock())
        typer.echo(f"revoked token {token_id}")


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(f"not a date (YYYY-MM-DD): {text!r}", field="day") from None


APPS: dict[str, typer.Typer] = {
    "students": students, "staff": staff, "groups": group_app, "nodes": node_app,
    "reservations": reservation_app, "assignments": assignment_app, "lectures": lecture_app,
    "submissions": submission_app, "slack": slack_app, "exceptions": exception_app,
    "grades": grade_app, "scribes": scribe_app, "peer-reviews": review_app,
    "checkoffs": checkoff_app, "token": token_app,
}
