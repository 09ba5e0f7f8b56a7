"""The course database: one engine per URL, one session per unit of work, Alembic to create it.

SQLite (a file under the data dir) is the default and PostgreSQL is chosen by URL
(``SAI_DATABASE_URL=postgresql+psycopg://user:pass@host/db``). Every use case in
``course.service`` runs inside one :func:`unit_of_work`: it commits when the use case
returns and rolls back when it raises, so a refused request leaves nothing stored.

SQLite needs four things from us: foreign keys switched on per connection, WAL so that
readers do not block the writer, a busy timeout, and transactions begun by SQLAlchemy rather
than by the ``sqlite3`` module, so that SAVEPOINTs behave as on PostgreSQL (the recipe from
the SQLAlchemy SQLite dialect notes). SQLite has one writer and no row locks: a transaction
that reads and later writes fails at once ("database is locked") if another writer committed
in between, so a use case that writes takes the write lock before it reads
(:func:`take_write_lock`, or ``unit_of_work(..., write=True)``) and then waits its turn.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from scalable_ai.errors import UserError
from scalable_ai.settings import get_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def normalize_url(url: str) -> str:
    """Accept the usual spellings of a PostgreSQL URL and pick the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy emits BEGIN itself (see below)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # A plain (deferred) BEGIN: a page view only reads and never queues on the one writer.
    # A use case that writes takes the write lock first (``take_write_lock``).
    connection.exec_driver_sql("BEGIN")


def make_engine(url: str | None = None, **options: Any) -> Engine:
    """An engine for ``url`` (default: ``get_settings().database_url``).

    A SQLite file's folder is created so that a fresh checkout works; a bad URL is a
    :class:`UserError` naming ``SAI_DATABASE_URL``.
    """
    url = normalize_url(url or get_settings().database_url)
    try:
        parsed = make_url(url)
    except Exception:
        raise UserError(f"not a database URL: {url!r}", field="SAI_DATABASE_URL") from None
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        # A request's session may be used from FastAPI's worker threads; the pool still hands
        # each connection to one session at a time.
        options.setdefault("connect_args", {"check_same_thread": False})
        engine = create_engine(url, **options)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    if parsed.get_backend_name() != "postgresql":
        raise UserError(
            f"only sqlite:/// and postgresql+psycopg:// are supported, got {parsed.drivername}",
            field="SAI_DATABASE_URL",
        )
    return create_engine(url, pool_pre_ping=True, **options)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit (pages render after the use case)."""
    return sessionmaker(bind=engine, expire_on_commit=False)


WRITE_LOCK_KEY = "scalable_ai.write_lock_transaction"


def take_write_lock(session: Session) -> None:
    """SQLite: hold the database's write lock from here to the end of the transaction, so a
    use case that reads then writes queues behind other writers (``busy_timeout``) instead
    of failing. A no-op UPDATE takes it through SQLAlchemy. PostgreSQL locks rows instead
    (``SELECT ... FOR UPDATE`` in the service layer) and needs nothing here.

    Taken once per transaction: a hand-in asks three times (the page's unit of work, the
    group lock, the people lock) and the lock is already held after the first."""
    if session.get_bind().dialect.name != "sqlite":
        return
    transaction = session.get_transaction()
    if transaction is not None and session.info.get(WRITE_LOCK_KEY) is transaction:
        return
    session.execute(text("UPDATE courses SET id = id WHERE 1 = 0"))
    session.info[WRITE_LOCK_KEY] = session.get_transaction()


@contextmanager
def unit_of_work(
    engine_or_factory: Engine | sessionmaker[Session], *, write: bool = False
) -> Iterator[Session]:
    """One transaction: commit if the block returns, roll back if it raises. ``write``:
    the block changes data, so on SQLite it takes the write lock before reading."""
    factory = (
        session_factory(engine_or_factory)
        if isinstance(engine_or_factory, Engine)
        else engine_or_factory
    )
    session = factory()
    try:
        if write:
            take_write_lock(session)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def alembic_config(url: str | None = None) -> Any:
    """An Alembic config built in code, so migrations run from an installed package."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalize_url(url or get_settings().database_url))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or bring the schema up to date: ``alembic upgrade head`` on this engine."""
    from alembic import command

    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    """The schema revision stored in the database (``None`` before the first upgrade)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def debian_postgres_bin(root: Path = Path("/usr/lib/postgresql")) -> Path:
    """The newest Debian PostgreSQL server's bin folder (``initdb``, ``pg_ctl``), used by the
    tests and benchmarks to start a throwaway cluster. Debian 12 ships 15, 13 ships 17."""
    found = [p.parent for p in root.glob("*/bin/initdb") if p.parent.parent.name.isdigit()]
    if not found:
        return root / "15" / "bin"
    return max(found, key=lambda bin_dir: int(bin_dir.parent.name))
