"""``sai course``: the course platform's local staff tool, working on the database directly
(as Django's manage.py does): create and load the database, write the calendar, manage the
roster, groups, nodes, slack days, exceptions and grades, import Gradescope, back up.

Every command honours ``SAI_DATABASE_URL`` (SQLite in the data dir by default) and the
course clock ``SAI_NOW``; it acts as local staff and each change is audited. A
:class:`UserError` is one line on stderr and exit code 2.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
import yaml
from sqlalchemy.orm import Session

from scalable_ai.course.clock import Clock, clock_from_env
from scalable_ai.course.db import current_revision, make_engine, unit_of_work, upgrade
from scalable_ai.course.service import Actor
from scalable_ai.errors import UserError

course_app = typer.Typer(
    help="The course platform's staff tool (database, rules, calendar).",
    no_args_is_help=True,
    add_completion=False,
)


def records_app(help_text: str) -> typer.Typer:
    """A ``sai course <records>`` group of commands (``cli_roster``, ``cli_coursework``);
    run bare, it prints its help."""
    return typer.Typer(help=help_text, no_args_is_help=True, add_completion=False)


def read_file(path: Path, *, field: str) -> str:
    """A file's text (UTF-8, a byte-order mark dropped, line ends kept for the CSV reader);
    an unreadable file is a :class:`UserError` naming the option or argument."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            return handle.read()
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}", field=field) from None


def write_file(path: Path, body: str | bytes, *, field: str = "--out") -> None:
    """Write ``body`` to ``path`` (making its folder); an unwritable path is a
    :class:`UserError` naming the option."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(body, bytes):
            path.write_bytes(body)
        else:
            path.write_text(body, encoding="utf-8", newline="")
    except OSError as error:
        raise UserError(f"cannot write {path}: {error.strerror}", field=field) from None


def staff_actor() -> Actor:
    return Actor.local_staff(f"sai course ({getpass.getuser()})")


def course_clock() -> Clock:
    return clock_from_env()


@contextmanager
def reported() -> Iterator[None]:
    """A user error becomes one line on stderr and exit code 2."""
    try:
        yield
    except UserError as error:
        typer.echo(f"error: {error}", err=True)
        raise SystemExit(2) from None


@contextmanager
def database(*, migrate: bool = False) -> Iterator[Session]:
    """One unit of work on ``SAI_DATABASE_URL``; refuses a database that was never created."""
    with reported():
        clock = course_clock()
        if clock.pinned:
            typer.echo(
                f"note: the course clock is pinned at {clock.now().isoformat()} "
                "(SAI_NOW), not the wall clock",
                err=True,
            )
        engine = make_engine()
        try:
            if migrate:
                upgrade(engine)
            elif current_revision(engine) is None:
                raise UserError(
                    "this database has no course tables yet: run `sai course init`",
                    field="SAI_DATABASE_URL",
                )
            with unit_of_work(engine, write=True) as session:
                yield session
        finally:
            engine.dispose()


@course_app.command()
def init(
    spec_file: Annotated[
        Path | None,
        typer.Option("--from", help="Course YAML (default: the shipped Spring 2026 syllabus)."),
    ] = None,
    demo: Annotated[bool, typer.Option(help="Also add the demo roster and its history.")] = False,
) -> None:
    """Create the database (Alembic upgrade head) and load a course into it."""
    from scalable_ai.course.service.setup import init_course
    from scalable_ai.course.spec import default_spec_path

    path = spec_file or default_spec_path()
    with database(migrate=True) as session:
        text = read_file(path, field="--from")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise UserError(f"{path} is not valid YAML: {error}", field="--from") from None
        course = init_course(session, staff_actor(), data, clock=course_clock())
        if demo:
            from scalable_ai.course.demo import seed_whole_demo

            seed_whole_demo(session, course_clock())
        typer.echo(f"Loaded {course.code}: {course.title} ({course.term}) from {path}")


@course_app.command()
def migrate() -> None:
    """Bring the database schema to the latest revision (Alembic upgrade head)."""
    with database(migrate=True) as session:
        from alembic.runtime.migration import MigrationContext

        revision = MigrationContext.configure(session.connection()).get_current_revision()
        typer.echo(f"schema at revision {revision}")


@course_app.command()
def demo() -> None:
    """Add the deterministic demo roster (40 students, 8 groups) up to the course clock."""
    from scalable_ai.course.demo import seed_whole_demo

    with database(migrate=True) as session:
        counts = seed_whole_demo(session, course_clock())
        typer.echo(f"demo: {counts['students']} students in {counts['groups']} groups")


@course_app.command()
def calendar(
    out: Annotated[Path, typer.Option("--out", help="Where to write (.ics, or .md).")],
    markdown: Annotated[bool, typer.Option("--markdown", help="A Markdown table instead.")] = False,
) -> None:
    """Write the course calendar: every lecture, release and deadline (RFC 5545 iCalendar)."""
    from scalable_ai.course.service.schedule import calendar_ics, schedule_markdown

    with database() as session:
        body = (
            schedule_markdown(session).encode()
            if markdown
            else calendar_ics(session, clock=course_clock())
        )
        write_file(out, body)
        typer.echo(f"wrote {out}")


@course_app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", help="The JSON file to write.")],
) -> None:
    """Export the whole course (every table) as one JSON file."""
    from scalable_ai.course.backup import export_course

    with database() as session:
        document = export_course(session, clock=course_clock())
        write_file(out, json.dumps(document, indent=1, sort_keys=True))
        rows = sum(len(rows) for rows in document["tables"].values())
        typer.echo(f"exported {rows} rows to {out}")


@course_app.command("import")
def import_command(
    file: Annotated[Path, typer.Argument(help="A `sai course export` file.")],
) -> None:
    """Import a whole course into this (new) database; SQLite to PostgreSQL works."""
    from scalable_ai.course.backup import import_course

    with database(migrate=True) as session:
        text = read_file(file, field="file")
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise UserError(f"{file} is not JSON: {error}", field="file") from None
        counts = import_course(session, document)
        typer.echo(f"imported {sum(counts.values())} rows into {len(counts)} tables")


@course_app.command("import-gradescope")
def import_gradescope(
    file: Annotated[Path, typer.Argument(help="Gradescope's gradebook CSV export.")],
    mapping: Annotated[list[str], typer.Option("--map", help="'Gradescope name=A1' (repeat).")],
    apply: Annotated[bool, typer.Option("--apply", help="Store (default: a dry run).")] = False,
) -> None:
    """Load Gradescope scores, applying the late rules to its lateness (dry run first)."""
    from scalable_ai.course.gradescope import import_gradebook, parse_mapping

    with database() as session:
        report = import_gradebook(
            session,
            staff_actor(),
            read_file(file, field="file"),
            parse_mapping(mapping),
            apply=apply,
            clock=course_clock(),
        )
        typer.echo(report.text(), nl=False)


@course_app.command()
def settings(
    changes: Annotated[
        list[str] | None, typer.Argument(help="KEY=VALUE (YAML values), e.g. deadline_time=17:00")
    ] = None,
) -> None:
    """Show the course settings, or change some (validated as a whole, audited)."""
    from scalable_ai.course.service.course import load_course
    from scalable_ai.course.service.setup import update_settings

    with database() as session:
        if changes:
            parsed = {}
            for change in changes:
                key, sep, value = change.partition("=")
                if not sep:
                    raise UserError(f"expected KEY=VALUE, got {change!r}", field="settings")
                parsed[key.strip()] = yaml.safe_load(value)
            update_settings(session, staff_actor(), parsed, clock=course_clock())
        typer.echo(yaml.safe_dump(load_course(session).settings, sort_keys=True), nl=False)


@course_app.command()
def audit(limit: Annotated[int, typer.Option(help="How many entries.")] = 30) -> None:
    """The newest audit-log entries (who, when, what)."""
    from scalable_ai.course.audit import entries

    with database() as session:
        for entry in entries(session, limit=limit):
            typer.echo(
                f"{entry.at:%Y-%m-%d %H:%M} {entry.actor_label:<28} {entry.action:<22} "
                f"{entry.entity} {entry.entity_id}"
            )


def _register() -> None:
    from scalable_ai.course import cli_coursework, cli_roster

    for module in (cli_roster, cli_coursework):
        for name, app in module.APPS.items():
            course_app.add_typer(app, name=name)


_register()
