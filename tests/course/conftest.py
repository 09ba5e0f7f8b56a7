"""Databases for the course tests: one migrated database per test worker on SQLite and on
PostgreSQL, each test inside a transaction that is rolled back (the SAVEPOINT pattern from
the SQLAlchemy docs), and a pinned course clock.

PostgreSQL: ``SAI_TEST_POSTGRES_URL`` (a server the tests may create databases on) is used
when set; otherwise each worker starts a throwaway cluster with Debian's ``initdb`` and
``pg_ctl`` in a temporary folder on a free port (run as the ``postgres`` user when the tests
run as root, since PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from scalable_ai.course.clock import BERKELEY, FixedClock
from scalable_ai.course.db import debian_postgres_bin, make_engine, upgrade

PG_BIN = debian_postgres_bin()
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
# Mid-semester: A1 is out (released Jan 27), A2 not yet (Feb 10); groups formed (Jan 29).
MID_SEMESTER = datetime(2026, 2, 5, 12, 0, tzinfo=BERKELEY)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(args: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


class ThrowawayCluster:
    """A PostgreSQL cluster in a temporary folder, stopped and deleted at the end (also at
    interpreter exit). Its folder records the test process that owns it, so a later run
    stops clusters left behind by a run that was killed."""

    def __init__(self) -> None:
        reap_orphaned_clusters()
        self.folder = Path(tempfile.mkdtemp(prefix="sai-pg-"))
        (self.folder / "owner.pid").write_text(str(os.getpid()))
        self.port = _free_port()
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres", "postgres")
        data = self.folder / "data"
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "initdb"),
                    "-D",
                    str(data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                    "-E",
                    "UTF8",
                    "--locale",
                    "C",
                ]
            ),
            check=True,
            capture_output=True,
        )
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        subprocess.run(
            _as_postgres(
                [
                    str(PG_BIN / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-w",
                    "-l",
                    str(self.folder / "log"),
                    "start",
                ]
            ),
            check=True,
            capture_output=True,
        )
        atexit.register(self.stop)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        stop_cluster(self.folder)


def stop_cluster(folder: Path) -> None:
    if (folder / "data").exists():
        subprocess.run(
            _as_postgres(
                [str(PG_BIN / "pg_ctl"), "-D", str(folder / "data"), "-m", "immediate", "stop"]
            ),
            capture_output=True,
        )
    shutil.rmtree(folder, ignore_errors=True)


def reap_orphaned_clusters() -> None:
    """Stop clusters of this fixture whose owning test process no longer exists."""
    for owner in Path(tempfile.gettempdir()).glob("sai-pg-*/owner.pid"):
        try:
            os.kill(int(owner.read_text()), 0)
        except ProcessLookupError:
            stop_cluster(owner.parent)
        except (OSError, ValueError):
            continue


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A URL of a PostgreSQL server on which the tests may create databases."""
    given = os.environ.get("SAI_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    cluster = ThrowawayCluster()
    try:
        yield cluster.url
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def new_postgres_database(postgres_server: str) -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty PostgreSQL databases; all are dropped at the end."""
    admin = create_engine(
        make_url(postgres_server).set(drivername="postgresql+psycopg"), isolation_level="AUTOCOMMIT"
    )
    made: list[str] = []

    def make() -> str:
        name = f"sai_test_{uuid.uuid4().hex[:12]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        made.append(name)
        url = make_url(postgres_server).set(drivername="postgresql+psycopg", database=name)
        return url.render_as_string(hide_password=False)

    yield make
    with admin.connect() as connection:
        for name in made:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def new_sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> Callable[[], str]:
    def make() -> str:
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'course.db'}"

    return make


def _migrated(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine


@pytest.fixture(scope="session")
def migrated_engines(request: pytest.FixtureRequest) -> Iterator[Callable[[str], Engine]]:
    """``migrated_engines("sqlite")``: this worker's migrated, empty database (made once)."""
    engines: dict[str, Engine] = {}

    def get(backend: str) -> Engine:
        if backend not in engines:
            factory = request.getfixturevalue(f"new_{backend}_database")
            engines[backend] = _migrated(factory())
        return engines[backend]

    yield get
    for engine in engines.values():
        engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MID_SEMESTER)


def _rolled_back_session(engine: Engine) -> Iterator[Session]:
    connection = engine.connect()
    outer = connection.begin()
    session = Session(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def empty_session(backend: str, migrated_engines: Callable[[str], Engine]) -> Iterator[Session]:
    """A session on this worker's migrated (empty) database, rolled back after the test."""
    yield from _rolled_back_session(migrated_engines(backend))


@pytest.fixture
def sqlite_session(migrated_engines: Callable[[str], Engine]) -> Iterator[Session]:
    yield from _rolled_back_session(migrated_engines("sqlite"))


@pytest.fixture
def postgres_session(migrated_engines: Callable[[str], Engine]) -> Iterator[Session]:
    yield from _rolled_back_session(migrated_engines("postgres"))


# --- a loaded course --------------------------------------------------------------------


def load_seed(session: Session) -> None:
    """Load the shipped Spring 2026 syllabus, as `sai course init` does."""
    import yaml

    from scalable_ai.course.clock import FixedClock
    from scalable_ai.course.service import Actor
    from scalable_ai.course.service.setup import init_course
    from scalable_ai.course.spec import default_spec_path

    data = yaml.safe_load(default_spec_path().read_text(encoding="utf-8"))
    init_course(
        session,
        Actor.local_staff("tests"),
        data,
        clock=FixedClock(datetime(2026, 1, 5, 9, 0, tzinfo=BERKELEY)),
    )


@pytest.fixture(scope="session")
def course_engines(request: pytest.FixtureRequest) -> Iterator[Callable[[str], Engine]]:
    """``course_engines("postgres")``: this worker's database with the syllabus loaded."""
    engines: dict[str, Engine] = {}

    def get(backend: str) -> Engine:
        if backend not in engines:
            factory = request.getfixturevalue(f"new_{backend}_database")
            engine = _migrated(factory())
            with Session(engine) as session:
                load_seed(session)
                session.commit()
            engines[backend] = engine
        return engines[backend]

    yield get
    for engine in engines.values():
        engine.dispose()


@pytest.fixture
def session(backend: str, course_engines: Callable[[str], Engine]) -> Iterator[Session]:
    """A session on the loaded course (SQLite, then PostgreSQL), rolled back after the test."""
    yield from _rolled_back_session(course_engines(backend))


@pytest.fixture
def staff():
    from scalable_ai.course.service import Actor

    return Actor.local_staff("tests")


@pytest.fixture
def enroll(session: Session, staff, clock):
    """``enroll(n)``: add ``n`` students (student01@example.edu, ...), returning them."""
    from scalable_ai.course.service.people import add_person

    counter = {"n": 0}

    def make(n: int) -> list:
        people = []
        for _ in range(n):
            counter["n"] += 1
            i = counter["n"]
            people.append(
                add_person(
                    session,
                    staff,
                    name=f"Student {i:02d}",
                    email=f"student{i:02d}@example.edu",
                    sid=f"30{i:06d}",
                    clock=clock,
                )
            )
        session.flush()
        return people

    return make


@pytest.fixture
def make_group(session: Session, staff, clock, enroll):
    """``make_group(size)``: a confirmed group of ``size`` new students with a node."""
    from scalable_ai.course.service.groups import confirm_group, propose_group

    counter = {"n": 0}

    def make(size: int = 4, *, confirm: bool = True):
        counter["n"] += 1
        members = enroll(size)
        group = propose_group(
            session,
            staff,
            name=f"Team {counter['n']}",
            member_ids=[p.id for p in members],
            clock=clock,
        )
        if confirm:
            confirm_group(session, staff, group.id, clock=clock)
        return group

    return make


# --- the JSON API over a rolled-back connection -----------------------------------------


@pytest.fixture(scope="session")
def world_engines(request: pytest.FixtureRequest) -> Iterator[Callable[[str], tuple]]:
    """``world_engines("sqlite")``: (engine, world) with the syllabus and the API world
    committed, built once per worker and backend."""
    from tests.course.world import World

    built: dict[str, tuple] = {}

    def get(backend: str) -> tuple:
        if backend not in built:
            factory = request.getfixturevalue(f"new_{backend}_database")
            engine = _migrated(factory())
            with Session(engine, expire_on_commit=False) as session:
                load_seed(session)
                world = World(session, FixedClock(MID_SEMESTER))
            built[backend] = (engine, world)
        return built[backend]

    yield get
    for engine, _ in built.values():
        engine.dispose()


@pytest.fixture(scope="session")
def api_clients(world_engines: Callable[[str], tuple]) -> Iterator[Callable[[str], tuple]]:
    """One API app and test client per backend, reused by every test (building the app and
    starting a client per test is most of an API test's time)."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from scalable_ai.course.api import create_api

    clients: dict[str, tuple] = {}

    def get(backend: str) -> tuple:
        if backend not in clients:
            engine, world = world_engines(backend)
            api = create_api(engine=engine, clock=FixedClock(MID_SEMESTER))
            app = FastAPI()
            app.mount("/api", api)
            client = TestClient(app)
            client.__enter__()
            clients[backend] = (client, api, engine, world)
        return clients[backend]

    yield get
    for client, *_ in clients.values():
        client.__exit__(None, None, None)


@pytest.fixture
def api_world(backend: str, api_clients: Callable[[str], tuple], clock: FixedClock):
    """``(client, world)``: the API over this test's rolled-back connection, on its clock."""
    from sqlalchemy.orm import sessionmaker

    client, api, engine, world = api_clients(backend)
    connection = engine.connect()
    outer = connection.begin()
    state = api.state.course_api
    state.sessions = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    state.clock = clock
    try:
        yield client, world
    finally:
        outer.rollback()
        connection.close()


def seeded_group(
    kind: str, request: pytest.FixtureRequest, size: int, name: str, **engine_options
) -> tuple[Engine, int, list]:
    """A fresh migrated database of ``kind`` (sqlite or postgres) with the seed course and one
    confirmed group of ``size`` new people: (engine, group id, the members' actors). For the
    tests that race real transactions."""
    from scalable_ai.course.db import unit_of_work
    from scalable_ai.course.service import Actor
    from scalable_ai.course.service.groups import confirm_group, propose_group
    from scalable_ai.course.service.people import add_person

    url = request.getfixturevalue(f"new_{kind}_database")()
    engine = make_engine(url, **engine_options)
    upgrade(engine)
    staff = Actor.local_staff("tests")
    clock = FixedClock(MID_SEMESTER)
    with unit_of_work(engine) as session:
        load_seed(session)
    with unit_of_work(engine) as session:
        people = [
            add_person(
                session,
                staff,
                name=f"{name} {i}",
                email=f"{name.lower()}{i}@example.edu",
                clock=clock,
            )
            for i in range(size)
        ]
        session.flush()
        group = propose_group(
            session, staff, name=name, member_ids=[p.id for p in people], clock=clock
        )
        confirm_group(session, staff, group.id, clock=clock)
        return engine, group.id, [Actor.of(p) for p in people]
