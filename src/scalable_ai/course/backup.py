"""Whole-course export and import: every table, every row, as one JSON document.

``sai course export --out course.json`` and ``sai course import course.json`` move a course
between databases, SQLite to PostgreSQL included, losslessly: the rows keep their ids (so
links between them hold), instants are written as ISO 8601 in UTC, dates as ISO dates,
binary values as base64, and an import into PostgreSQL moves each id sequence past the
imported rows. An import goes only into an empty (freshly migrated) database, and checks that
the document's schema revision is the database's.
"""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Any

from sqlalchemy import Date, DateTime, LargeBinary, Table, func, insert, select, text
from sqlalchemy.orm import Session

from scalable_ai.course.clock import Clock
from scalable_ai.course.links import LINK_COLUMNS, check_link, is_upload_link
from scalable_ai.course.tables import Base, UTCDateTime
from scalable_ai.errors import Conflict, UserError

FORMAT = "scalable-ai-course"
VERSION = 1


def _revision(session: Session) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(session.connection()).get_current_revision()


def _tables() -> list[Table]:
    return list(Base.metadata.sorted_tables)


def _dump_value(column_type: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


def _load_value(column_type: Any, value: Any, where: str) -> Any:
    if value is None:
        return None
    try:
        if isinstance(column_type, UTCDateTime | DateTime):
            return datetime.fromisoformat(value)
        if isinstance(column_type, Date):
            return date.fromisoformat(value)
        if isinstance(column_type, LargeBinary):
            return base64.b64decode(value)
    except (TypeError, ValueError):
        raise UserError(f"not a valid value: {value!r}", field=where) from None
    return value


def export_course(session: Session, *, clock: Clock) -> dict[str, Any]:
    """Every row of every course table, in dependency order, as JSON-ready data."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for table in _tables():
        order = list(table.primary_key.columns) or list(table.columns)
        rows = session.execute(select(table).order_by(*order)).mappings()
        tables[table.name] = [
            {column.name: _dump_value(column.type, row[column.name]) for column in table.columns}
            for row in rows
        ]
    return {
        "format": FORMAT,
        "version": VERSION,
        "schema_revision": _revision(session),
        "exported_at": clock.now().isoformat(),
        "tables": tables,
    }


def import_course(session: Session, document: dict[str, Any]) -> dict[str, int]:
    """Load an export into this (empty, migrated) database; returns rows per table."""
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise UserError(f"not a {FORMAT} export", field="file")
    if document.get("version") != VERSION:
        raise UserError(
            f"export version {document.get('version')!r}; this program reads version {VERSION}",
            field="version",
        )
    here = _revision(session)
    if document.get("schema_revision") != here:
        raise UserError(
            f"the export is of schema revision {document.get('schema_revision')}, "
            f"this database is at {here}: migrate both to the same revision",
            field="schema_revision",
        )
    tables = document.get("tables")
    if not isinstance(tables, dict):
        raise UserError("the export has no tables", field="tables")
    known = {t.name for t in _tables()}
    unknown = sorted(set(tables) - known)
    if unknown:
        raise UserError(f"unknown table {unknown[0]!r}", field="tables")
    for table in _tables():
        if session.scalar(select(func.count()).select_from(table)):
            raise Conflict(
                f"the database is not empty (table {table.name} has rows); import "
                "into a freshly migrated database",
                field="database",
            )
    counts: dict[str, int] = {}
    for table in _tables():
        rows = tables.get(table.name, [])
        if not isinstance(rows, list):
            raise UserError("must be a list of rows", field=f"tables.{table.name}")
        columns = {c.name: c for c in table.columns}
        loaded = []
        for i, row in enumerate(rows):
            if not isinstance(row, dict) or set(row) - set(columns):
                raise UserError("a row with unknown columns", field=f"tables.{table.name}[{i}]")
            loaded.append(
                {
                    name: _load_value(columns[name].type, value, f"tables.{table.name}[{i}].{name}")
                    for name, value in row.items()
                }
            )
            _check_links(table.name, row, f"tables.{table.name}[{i}]")
        for start in range(0, len(loaded), 500):
            session.execute(insert(table), loaded[start : start + 500])
        counts[table.name] = len(loaded)
    _advance_sequences(session)
    session.flush()
    return counts


def _check_links(table: str, row: dict[str, Any], where: str) -> None:
    """An imported link obeys the same rule as a typed one (``course.links``): an http(s)
    link, or one of the platform's own uploads for a hand-in."""
    for name in (column for t, column in LINK_COLUMNS if t == table):
        value = row.get(name)
        if value and not is_upload_link(str(value)):
            check_link(str(value), f"{where}.{name}")


def _advance_sequences(session: Session) -> None:
    """PostgreSQL: move each serial id past the imported rows (SQLite needs nothing)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for table in _tables():
        if "id" not in table.columns or not table.c.id.primary_key:
            continue
        session.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)"
            )
        )
