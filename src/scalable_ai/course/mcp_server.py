"""The course platform as an MCP server: read-only tools for the caller behind an API token.

Any MCP-capable assistant (``sai agent``, an IDE, a desktop client) can answer a student's
course questions from the platform itself: my next deadlines (with my slack days and approved
exceptions applied), my slack days left, my group and node, my reservation's hostfile, the
schedule, the syllabus's rules. Built on the official ``mcp`` SDK (FastMCP), over stdio
(``SAI_API_TOKEN`` names the caller) or streamable HTTP (``Authorization: Bearer <token>``
on every request, refused with 401 without one).

Every tool resolves the token to an :class:`~scalable_ai.course.service.Actor` and reads
through the service layer's permission gate, one read-only unit of work per call, exactly
as the JSON API does: a student's token reads that student's own record and group and
nothing else (a tool asked about another student answers the gate's refusal). The tools
change nothing. Each result leads with ``answer``, one human-readable sentence built from
the same figures ("You have 2 of 3 slack days left; 1 used (slack day 1 of 3 used on
A2)."): an assistant can return it as is (LangChain's ``return_direct`` tools), so a
small model never has to copy a number correctly.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import typer
from mcp.server.fastmcp import Context, FastMCP
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from scalable_ai.course.clock import Clock
from scalable_ai.course.db import unit_of_work
from scalable_ai.course.service import Actor
from scalable_ai.course.service import groups as group_service
from scalable_ai.course.service import nodes as node_service
from scalable_ai.course.service import slack as slack_service
from scalable_ai.course.service.course import load_course, milestone_due_at, settings_of
from scalable_ai.course.service.credentials import actor_for_api_token
from scalable_ai.course.service.people import person_by_email
from scalable_ai.course.service.schedule import schedule_events
from scalable_ai.course.service.submissions import assignment_statuses
from scalable_ai.course.tables import Milestone, Person
from scalable_ai.errors import Forbidden, UserError

INSTRUCTIONS = (
    "Read-only tools over the Scalable AI (EE 290/194) course platform for the signed-in "
    "person: their deadlines, slack days, group, node, reservation hostfile, the schedule and "
    "the syllabus's rules. They never change anything and never show another student's data."
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="minutes") if value else None


def deadlines_line(
    assignments: list[dict[str, Any]], milestones: list[dict[str, Any]], mine: bool
) -> str:
    """The deadlines as one sentence (the tools' ``answer``: what an assistant may say as is)."""
    if not assignments and not milestones:
        return "No deadlines are coming up."
    parts = []
    for a in assignments[:3]:
        extra = " (a slack day applied)" if a["slack_day_applied"] else ""
        extra += f" (exception: {a['exception']})" if a["exception"] else ""
        done = ", submitted" if a["submitted"] else ""
        parts.append(f"{a['assignment']} {a['title']} due {a['your_deadline']}{extra}{done}")
    parts += [f"milestone {m['title']} due {m['due']}" for m in milestones[:2]]
    return ("Your next deadlines: " if mine else "Next deadlines: ") + "; ".join(parts) + "."


def reservations_line(found: list[dict[str, Any]]) -> str:
    if not found:
        return "Your group has no current or coming reservations."
    parts = []
    for r in found:
        hostfile = " hostfile: " + r["hostfile"].replace("\n", ", ") if r.get("hostfile") else ""
        parts.append(f"#{r['reservation']} {r['starts']} to {r['ends']} on "
                     f"{', '.join(r['nodes'])}{hostfile}")  # fmt: skip
    return "Your group's reservations: " + "; ".join(parts) + "."


class CourseTools:
    """The tools' bodies, each one read-only unit of work for the token's actor."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        token: str = "",
        person_id: int | None = None,
    ) -> None:
        """``person_id`` instead of a token: the platform's own signed-in person (the web
        page of the course assistant), with exactly the scope their token would have."""
        self.sessions, self.clock, self.token = sessions, clock, token
        self.person_id = person_id

    def token_of(self, ctx: Context | None) -> str:
        """The request's bearer token (streamable HTTP) or the process's (stdio)."""
        request = ctx.request_context.request if ctx is not None else None
        if request is not None:
            header = request.headers.get("authorization", "")
            scheme, _, value = header.partition(" ")
            return value.strip() if scheme.lower() == "bearer" else ""
        return self.token

    @contextmanager
    def call(self, ctx: Context | None) -> Iterator[tuple[Session, Actor]]:
        if self.person_id is not None:
            with unit_of_work(self.sessions) as session:
                person = session.get(Person, self.person_id)
                if person is None:
                    raise Forbidden("the signed-in person no longer exists")
                yield session, Actor.of(person)
            return
        token = self.token_of(ctx)
        if not token:
            raise Forbidden("no API token: set SAI_API_TOKEN or send Authorization: Bearer")
        with unit_of_work(self.sessions) as session:
            actor = actor_for_api_token(session, token, clock=self.clock, record_use=False)
            yield session, actor

    def _person_id(self, session: Session, actor: Actor, student_email: str) -> int:
        if not student_email:
            if actor.person_id is None:
                raise Forbidden("this token has no person")
            return actor.person_id
        return person_by_email(session, actor, student_email).id  # staff, or yourself

    def deadlines(self, ctx: Context | None, student_email: str = "") -> dict[str, Any]:
        with self.call(ctx) as (session, actor):
            person_id = self._person_id(session, actor, student_email)
            now = self.clock.now()
            statuses = assignment_statuses(session, actor, person_id)  # the gate is in here
            assignments = [
                {
                    "assignment": s.assignment.key,
                    "title": s.assignment.title,
                    "due": _iso(s.due),
                    "your_deadline": _iso(s.deadline),
                    "slack_day_applied": s.slack_day_applied,
                    "exception": s.exception_reason,
                    "submitted": s.submission is not None,
                }
                for s in statuses
                if s.deadline >= now
            ]
            settings = settings_of(session)
            milestones = [
                {"milestone": m.key, "title": m.title, "due": _iso(milestone_due_at(m, settings))}
                for m in session.scalars(select(Milestone).order_by(Milestone.day))
                if m.kind == "deadline" and milestone_due_at(m, settings) >= now
            ]
            mine = not student_email or person_id == actor.person_id
            return {
                "answer": deadlines_line(assignments, milestones, mine),
                "now": _iso(now),
                "assignments": assignments,
                "milestones": milestones,
            }

    def slack_days(self, ctx: Context | None, student_email: str = "") -> dict[str, Any]:
        with self.call(ctx) as (session, actor):
            person_id = self._person_id(session, actor, student_email)
            balance = slack_service.slack_balance(session, actor, person_id)
            who = "You have" if person_id == actor.person_id else f"{student_email} has"
            line = f"{who} {balance.left} of {balance.total} slack days left; {balance.used} used"
            return {
                "answer": line + (f" ({'; '.join(balance.notes)})." if balance.notes else "."),
                "total": balance.total,
                "used": balance.used,
                "left": balance.left,
                "notes": list(balance.notes),
            }

    def group(self, ctx: Context | None) -> dict[str, Any]:
        with self.call(ctx) as (session, actor):
            group = group_service.my_group(session, actor)
            if group is None:
                return {"answer": "You are not in a group yet.", "group": None}
            node = group.node
            members = ", ".join(p.name for p in group.members)
            where = (
                f" Your node is {node.name} (IP {node.external_ip}, {node.gpus} GPUs)."
                if node
                else " Your group has no node yet."
            )
            return {
                "answer": f"You are in group {group.name} with {members}.{where}",
                "group": group.name,
                "confirmed": group.confirmed_at is not None,
                "members": [p.name for p in group.members],
                "node": node.name if node else None,
                "node_ip": node.external_ip if node else None,
                "gpus": node.gpus if node else 0,
            }

    def reservation_hostfile(self, ctx: Context | None) -> dict[str, Any]:
        with self.call(ctx) as (session, actor):
            now = self.clock.now()
            rows = node_service.list_reservations(session, actor)
            live = [r for r in rows if r.cancelled_at is None and r.ends_at >= now]
            found: list[dict[str, Any]] = []
            for row in live:
                entry: dict[str, Any] = {
                    "reservation": row.id,
                    "starts": _iso(row.starts_at),
                    "ends": _iso(row.ends_at),
                    "nodes": [n.node.name for n in row.nodes],
                    "purpose": row.purpose,
                }
                try:
                    plan = node_service.reservation_plan(session, actor, row.id, clock=self.clock)
                    entry.update(hostfile=plan.hostfile, torchrun=plan.torchrun_command)
                except UserError as refusal:  # outside its window, or not yet agreed
                    entry["hostfile"] = None
                    entry["why_no_hostfile"] = str(refusal)
                found.append(entry)
            return {"answer": reservations_line(found), "now": _iso(now), "reservations": found}

    def schedule(self, ctx: Context | None, upcoming_only: bool = True, limit: int = 15):
        with self.call(ctx) as (session, _actor):
            today = self.clock.now().date()
            events = [e for e in schedule_events(session) if not upcoming_only or e.day >= today]
            soon = "; ".join(f"{e.day.isoformat()} {e.title}" for e in events[:3])
            return {
                "answer": f"Next on the schedule: {soon}." if soon else "Nothing is scheduled.",
                "events": [
                    {
                        "day": e.day.isoformat(),
                        "kind": str(e.kind),
                        "title": e.title,
                        "starts": _iso(e.starts_at),
                        "location": e.location,
                    }
                    for e in events[: max(1, min(limit, 200))]
                ],
            }

    def syllabus_rules(self, ctx: Context | None) -> dict[str, Any]:
        with self.call(ctx) as (session, _actor):
            settings = settings_of(session)
            spec = load_course(session).spec or {}
            return {
                "answer": (
                    f"{settings.slack_days_total} slack days in all, at most "
                    f"{settings.slack_days_per_assignment} per assignment; deadlines at "
                    f"{settings.deadline_time:%H:%M} {settings.timezone}; groups of "
                    f"{settings.group_size_min}-{settings.group_size_max}; reservations last at "
                    f"most {settings.reservation_max_hours} hours."
                ),
                "grading_components": [
                    {"component": c.get("title"), "weight": c.get("weight")}
                    for c in spec.get("components", [])
                ],
                "failing_any_component_fails_the_class": True,
                "grading_basis": "letter grade only",
                "slack_days": {
                    "total": settings.slack_days_total,
                    "per_assignment_at_most": settings.slack_days_per_assignment,
                    "hours_each": settings.slack_day_hours,
                    "other_late_work": "not accepted without an approved exception",
                },
                "deadline_time": f"{settings.deadline_time:%H:%M} {settings.timezone}",
                "group_size": [settings.group_size_min, settings.group_size_max],
                "gpus_per_node": settings.gpus_per_node,
                "reservation_max_hours": settings.reservation_max_hours,
                "scribe_lectures_per_student": settings.scribe_lectures_per_student,
                "questions": "post on the course forum (Ed), not Slack",
            }


def build_server(sessions: sessionmaker[Session], clock: Clock, token: str = "") -> FastMCP:
    """The FastMCP server; ``token`` is the stdio caller's (HTTP callers send their own)."""
    tools = CourseTools(sessions, clock, token)
    server = FastMCP("scalable-ai-course", instructions=INSTRUCTIONS)

    @server.tool()
    def my_deadlines(ctx: Context, student_email: str = "") -> dict[str, Any]:
        """My upcoming assignment deadlines (slack days and exceptions applied) and project
        milestones. Staff may name a student by e-mail; a student only themself."""
        return tools.deadlines(ctx, student_email)

    @server.tool()
    def my_slack_days(ctx: Context, student_email: str = "") -> dict[str, Any]:
        """My slack days: total, used and left (3 in all, at most 1 per assignment). Staff may
        name a student by e-mail; a student only themself."""
        return tools.slack_days(ctx, student_email)

    @server.tool()
    def my_group(ctx: Context) -> dict[str, Any]:
        """My group: its name, members, and its H100 node with the node's IP address."""
        return tools.group(ctx)

    @server.tool()
    def my_reservation_hostfile(ctx: Context) -> dict[str, Any]:
        """My group's current and coming multi-node reservations, with the hostfile and
        torchrun command while a reservation's window is open."""
        return tools.reservation_hostfile(ctx)

    @server.tool()
    def course_schedule(ctx: Context, upcoming_only: bool = True, limit: int = 15) -> dict:
        """The course schedule: lectures, releases, deadlines and events, soonest first."""
        return tools.schedule(ctx, upcoming_only, limit)

    @server.tool()
    def syllabus_rules(ctx: Context) -> dict[str, Any]:
        """The syllabus's rules: grade weights, slack days, deadline time, group size."""
        return tools.syllabus_rules(ctx)

    return server


def http_app(server: FastMCP) -> Any:
    """The streamable HTTP app at ``/mcp``, refusing requests without a bearer token."""
    from starlette.responses import JSONResponse

    inner = server.streamable_http_app()

    async def app(scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers") or [])
            header = headers.get(b"authorization", b"").decode("latin-1")
            if not header.lower().startswith("bearer ") or not header[7:].strip():
                answer = JSONResponse(
                    {"error": "send Authorization: Bearer <your course API token>"},
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await answer(scope, receive, send)
                return
        await inner(scope, receive, send)

    return app


mcp_app = typer.Typer(add_completion=False, help="The course platform as an MCP server.")


@mcp_app.command()
def mcp(
    transport: str = typer.Option("stdio", help="stdio, or http (streamable HTTP at /mcp)."),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (http)."),
    port: int = typer.Option(8765, help="TCP port (http)."),
) -> None:
    """Serve the course's read-only tools over MCP; the caller is SAI_API_TOKEN (stdio) or
    each request's bearer token (http)."""
    from scalable_ai.course.clock import clock_from_env
    from scalable_ai.course.db import make_engine, session_factory

    if transport not in ("stdio", "http"):
        raise UserError("use stdio or http", field="transport")
    sessions = session_factory(make_engine())
    token = os.environ.get("SAI_API_TOKEN", "")
    if transport == "stdio" and not token:
        raise UserError("set SAI_API_TOKEN to your course API token", field="SAI_API_TOKEN")
    server = build_server(sessions, clock_from_env(), token)
    if transport == "stdio":
        server.run("stdio")
        return
    import uvicorn

    typer.echo(f"MCP (streamable HTTP) at http://{host}:{port}/mcp", err=True)
    uvicorn.run(http_app(server), host=host, port=port, log_level="warning")
