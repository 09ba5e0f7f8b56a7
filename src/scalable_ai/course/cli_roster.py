"""``sai course <records> ...`` for people and machines: students, staff, groups, nodes,
reservations and API tokens, from the terminal (local staff; every change audited)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Annotated

import typer

from scalable_ai.course.cli import (
    course_clock,
    database,
    read_file,
    records_app,
    staff_actor,
)
from scalable_ai.course.service import (
    Actor,
    credentials,
    groups,
    nodes,
    people,
    slack,
)
from scalable_ai.course.service.course import node_by_name

students = records_app("Students: list, add, show.")
staff = records_app("Teaching staff: list, add.")
group_app = records_app("Groups: list, propose, confirm, move students.")
node_app = records_app("Nodes: list, set IPs, authorized_keys.")
reservation_app = records_app("Multi-node reservations: list, plan, cancel.")
token_app = records_app("Personal API tokens for the JSON API.")


@students.command("list")
def list_students() -> None:
    """Every student: id, SID, email, name."""
    with database() as session:
        for p in people.list_people(session, staff_actor(), role="student"):
            typer.echo(f"{p.id:>4}  {p.sid or '-':<12} {p.email:<36} {p.name}")


@students.command("add")
def add_student(name: str, email: str, sid: Annotated[str | None, typer.Option()] = None) -> None:
    """Add a student to the roster."""
    with database() as session:
        p = people.add_person(
            session, staff_actor(), name=name, email=email, sid=sid, clock=course_clock()
        )
        session.flush()
        typer.echo(f"added student {p.id} {p.email}")


@students.command("import")
def import_students(
    file: Annotated[Path, typer.Argument(help="CSV with name,email[,sid].")],
) -> None:
    """Add students from a CSV roster (known emails are skipped)."""
    import csv

    with database() as session:
        rows = [
            {k.strip().lower(): (v or "") for k, v in row.items() if k}
            for row in csv.DictReader(io.StringIO(read_file(file, field="file")))
        ]
        added = people.import_roster(session, staff_actor(), rows, clock=course_clock())
        typer.echo(f"added {len(added)} students ({len(rows) - len(added)} already known)")


@students.command("show")
def show_student(email: str) -> None:
    """A student's group and slack-day balance."""
    with database() as session:
        actor = staff_actor()
        p = people.person_by_email(session, actor, email)
        group = groups.my_group(session, Actor.of(p))
        balance = slack.slack_balance(session, actor, p.id)
        typer.echo(
            f"{p.name} <{p.email}> SID {p.sid or '-'}; group: "
            f"{group.name if group else '(none)'}; slack days left {balance.left}"
            f"/{balance.total}"
        )


@staff.command("list")
def list_staff() -> None:
    """The teaching staff."""
    with database() as session:
        for p in people.list_staff(session):
            typer.echo(f"{p.id:>4}  {p.email:<36} {p.name} ({p.staff_title or 'staff'})")


@staff.command("add")
def add_staff(name: str, email: str, title: Annotated[str, typer.Option()] = "Teaching") -> None:
    """Add a member of the teaching staff."""
    with database() as session:
        p = people.add_person(
            session,
            staff_actor(),
            name=name,
            email=email,
            role="staff",
            staff_title=title,
            clock=course_clock(),
        )
        session.flush()
        typer.echo(f"added staff {p.id} {p.email}")


@group_app.command("list")
def list_groups() -> None:
    """Every group with its node, state and members."""
    with database() as session:
        for g in groups.list_groups(session, staff_actor()):
            node = f"{g.node.name} {g.node.external_ip}" if g.node else "(no node)"
            state = "confirmed" if g.confirmed_at else "forming"
            typer.echo(
                f"{g.id:>3}  {g.name:<24} {state:<9} {node:<24} "
                + ", ".join(p.email for p in g.members)
            )


@group_app.command("propose")
def propose(
    name: str,
    emails: list[str],
    confirm: Annotated[bool, typer.Option(help="Confirm and assign a node.")] = True,
) -> None:
    """Propose a group of 4–6 students by email (confirmed with a node by default)."""
    with database() as session:
        actor = staff_actor()
        ids = [people.person_by_email(session, actor, e).id for e in emails]
        group = groups.propose_group(
            session, actor, name=name, member_ids=ids, clock=course_clock()
        )
        if confirm:
            groups.confirm_group(session, actor, group.id, clock=course_clock())
        typer.echo(
            f"group {group.id} {group.name}: {len(ids)} members"
            + (f", node {group.node.name}" if group.node else "")
        )


@group_app.command("confirm")
def confirm(name: str) -> None:
    """Confirm a group and give it the next free node."""
    with database() as session:
        actor = staff_actor()
        group = groups.confirm_group(
            session, actor, groups.group_by_name(session, actor, name).id, clock=course_clock()
        )
        typer.echo(f"confirmed {group.name} on {group.node.name if group.node else '-'}")


@group_app.command("move")
def move(
    email: str,
    to: Annotated[
        str | None, typer.Option(help="Group name; omit to remove from every group.")
    ] = None,
) -> None:
    """Move a student to another group, or out of every group."""
    with database() as session:
        actor = staff_actor()
        person = people.person_by_email(session, actor, email)
        target = groups.group_by_name(session, actor, to).id if to else None
        groups.move_student(session, actor, person.id, to_group_id=target, clock=course_clock())
        typer.echo(f"moved {email} to {to or '(no group)'}")


@node_app.command("list")
def list_nodes() -> None:
    """The node pool: names, static IPs, owning groups."""
    with database() as session:
        for n in nodes.list_nodes(session, staff_actor()):
            owner = nodes.node_owner(session, n.id)
            typer.echo(
                f"{n.name:<8} {n.external_ip:<16} {n.gpus}xGPU  {owner.name if owner else '(free)'}"
            )


@node_app.command("set-ip")
def set_ip(name: str, ip: str) -> None:
    """Record a node's real static external IP."""
    with database() as session:
        node = nodes.set_node_ip(
            session, staff_actor(), node_by_name(session, name).id, ip=ip, clock=course_clock()
        )
        typer.echo(f"{node.name} is at {node.external_ip}")


@node_app.command("authorized-keys")
def authorized_keys(name: str) -> None:
    """Print a node's authorized_keys (its group, plus partners during a reservation)."""
    with database() as session:
        typer.echo(
            nodes.authorized_keys(
                session, staff_actor(), node_by_name(session, name).id, clock=course_clock()
            ),
            nl=False,
        )


@reservation_app.command("list")
def list_reservations() -> None:
    """Every multi-node reservation and whether every group consented."""
    with database() as session:
        for r in nodes.list_reservations(session, staff_actor()):
            state = (
                "cancelled"
                if r.cancelled_at
                else "consented"
                if r.consented
                else "awaiting consent"
            )
            typer.echo(
                f"{r.id:>3}  {r.starts_at:%Y-%m-%d %H:%M}–{r.ends_at:%Y-%m-%d %H:%M} UTC "
                f"{state:<17} " + ", ".join(f"{n.node.name} ({n.group.name})" for n in r.nodes)
            )


@reservation_app.command("plan")
def plan(reservation_id: int) -> None:
    """The hostfile and torchrun command of an active reservation."""
    with database() as session:
        result = nodes.reservation_plan(
            session, staff_actor(), reservation_id, clock=course_clock()
        )
        typer.echo("# hostfile\n" + result.hostfile + "# torchrun\n" + result.torchrun_command)


@reservation_app.command("cancel")
def cancel(reservation_id: int) -> None:
    """Cancel a reservation (it then grants nothing)."""
    with database() as session:
        nodes.cancel_reservation(session, staff_actor(), reservation_id, clock=course_clock())
        typer.echo(f"cancelled reservation {reservation_id}")


@token_app.command("create")
def create_token(email: str, name: Annotated[str, typer.Option()] = "script") -> None:
    """Make a personal API token (printed once) for ``Authorization: Bearer``."""
    with database() as session:
        actor = staff_actor()
        _row, token = credentials.create_api_token(
            session,
            actor,
            person_id=people.person_by_email(session, actor, email).id,
            name=name,
            clock=course_clock(),
        )
        typer.echo(token)


@token_app.command("revoke")
def revoke_token(token_id: int) -> None:
    """Revoke a personal API token."""
    with database() as session:
        credentials.revoke_api_token(session, staff_actor(), token_id, clock=course_clock())
        typer.echo(f"revoked token {token_id}")


APPS: dict[str, typer.Typer] = {
    "students": students,
    "staff": staff,
    "groups": group_app,
    "nodes": node_app,
    "reservations": reservation_app,
    "token": token_app,
}
