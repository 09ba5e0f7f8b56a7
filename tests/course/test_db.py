"""Storage: the schema is made by Alembic (``upgrade head``), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from scalable_ai.course.db import (
    alembic_config,
    current_revision,
    make_engine,
    normalize_url,
    upgrade,
)
from scalable_ai.course.service import Actor
from scalable_ai.course.service.people import add_person
from scalable_ai.course.tables import AuditEntry, Base
from scalable_ai.errors import UserError


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def test_upgrade_head_creates_every_table(empty_session: Session) -> None:
    names = set(inspect(empty_session.connection()).get_table_names())
    assert set(Base.metadata.tables) <= names
    assert "alembic_version" in names


def test_migrations_match_the_models(empty_session: Session) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from scalable_ai.course.community.forum_search import is_search_index

    # The full-text search index (FTS5 table / GIN index) is made by its migration, not a model.
    context = MigrationContext.configure(
        empty_session.connection(),
        opts={"include_name": lambda name, type_, parents: not is_search_index(name)},
    )
    assert compare_metadata(context, Base.metadata) == []


def test_a_sqlite_file_is_created_under_its_folder(tmp_path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'new' / 'course.db'}")
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_postgres_urls_use_psycopg_3() -> None:
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"


def test_an_unknown_database_kind_is_refused_naming_the_setting() -> None:
    with pytest.raises(UserError) as caught:
        make_engine("mysql://u@h/db")
    assert caught.value.field == "SAI_DATABASE_URL"


def test_the_audit_log_is_append_only(empty_session: Session, clock) -> None:
    add_person(
        empty_session, Actor.local_staff(), name="Ada", email="ada@berkeley.edu", clock=clock
    )
    empty_session.flush()
    entry = empty_session.query(AuditEntry).one()
    with pytest.raises(DBAPIError), empty_session.begin_nested():
        empty_session.execute(
            text("UPDATE audit_log SET action = 'x' WHERE id = :id"), {"id": entry.id}
        )
    with pytest.raises(DBAPIError), empty_session.begin_nested():
        empty_session.execute(text("DELETE FROM audit_log"))


def test_the_newest_debian_postgres_server_is_used_for_throwaway_clusters(tmp_path):
    from scalable_ai.course.db import debian_postgres_bin

    for version in ("13", "15", "17"):
        (tmp_path / version / "bin").mkdir(parents=True)
        (tmp_path / version / "bin" / "initdb").touch()
    (tmp_path / "common" / "bin").mkdir(parents=True)
    assert debian_postgres_bin(tmp_path) == tmp_path / "17" / "bin"
    assert debian_postgres_bin(tmp_path / "none") == tmp_path / "none" / "15" / "bin"
