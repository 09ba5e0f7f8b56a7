"""Fixtures for the web pages.

Two databases, each migrated and filled once per test worker and copied per test (a SQLite
file copy is cheaper than seeding): ``course_database`` holds the Spring 2026 course as
``sai course init`` loads it and nobody else (tests add the people they need through the
service layer), ``demo_database`` the demo course ``sai up`` seeds. ``platform`` is the app
with an HTTP client; ``live_server`` the same app served by uvicorn on a free port for
Playwright's chromium (Debian's ``/usr/bin/chromium``; never ``playwright install``).
"""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from scalable_ai.course.clock import FixedClock, parse_instant
from scalable_ai.course.db import make_engine, unit_of_work, upgrade
from scalable_ai.course.service import Actor
from scalable_ai.course.web import create_app
from scalable_ai.course.web.security import SignInLimiter, hash_password
from scalable_ai.settings import Settings

MID_SEMESTER = "2026-03-05T10:00"  # a Thursday: L14; A3 is due the next Tuesday
BEFORE_FORMATION = "2026-01-26T10:00"  # groups form themselves until Jan 29
SECRET = "test-secret-key-that-is-long-enough-to-sign-cookies"
STAFF_TOOL = Actor.local_staff("tests")


def _migrated(folder: Path, fill: Callable[[Engine, FixedClock], None]) -> Path:
    path = folder / "course.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    fill(engine, FixedClock(parse_instant(MID_SEMESTER)))
    engine.dispose()
    return path


def init_spring_course(engine: Engine, clock: FixedClock) -> None:
    """The course as ``sai course init --from spring2026.yaml`` loads it."""
    import yaml

    from scalable_ai.course.service.setup import init_course
    from scalable_ai.course.spec import default_spec_path

    with unit_of_work(engine) as session:
        init_course(
            session, STAFF_TOOL, yaml.safe_load(default_spec_path().read_text()), clock=clock
        )


def seed_demo_course(engine: Engine, clock: FixedClock) -> None:
    """The demo course, as ``sai up`` seeds it."""
    from scalable_ai.course.demo import seed_demo

    with unit_of_work(engine) as session:
        seed_demo(session, clock)


@pytest.fixture(scope="session")
def course_database(tmp_path_factory) -> Path:
    return _migrated(tmp_path_factory.mktemp("course"), init_spring_course)


@pytest.fixture(scope="session")
def demo_database(tmp_path_factory) -> Path:
    return _migrated(tmp_path_factory.mktemp("demo"), seed_demo_course)


@dataclass
class Platform:
    app: FastAPI
    client: TestClient
    engine: Engine
    clock: FixedClock
    settings: Settings

    def new_client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)

    def set_clock(self, when: str) -> None:
        self.clock.at = parse_instant(when)


def open_platform(database: Path, folder: Path, **options: Any) -> Platform:
    path = folder / "course.db"
    shutil.copy(database, path)
    engine = make_engine(f"sqlite:///{path}")
    clock = FixedClock(parse_instant(MID_SEMESTER))
    settings = Settings(
        data_dir=folder / "data", runs_dir=folder / "runs", database_url=f"sqlite:///{path}"
    )
    app = create_app(settings, clock, engine=engine, secret_key=SECRET, **options)
    return Platform(
        app=app,
        client=TestClient(app, follow_redirects=False),
        engine=engine,
        clock=clock,
        settings=settings,
    )


@pytest.fixture
def platform(course_database: Path, tmp_path: Path) -> Iterator[Platform]:
    made = open_platform(
        course_database, tmp_path, limiter=SignInLimiter(per_account=5, per_client=50)
    )
    with made.client:
        yield made
    made.engine.dispose()


@pytest.fixture
def demo_platform(demo_database: Path, tmp_path: Path) -> Iterator[Platform]:
    made = open_platform(demo_database, tmp_path)
    with made.client:
        yield made
    made.engine.dispose()


# People, made through the service layer --------------------------------------------------


def add_people(
    engine: Engine, clock: FixedClock, people: dict[str, tuple[str, str, str]]
) -> dict[str, int]:
    """key → (name, e-mail, role); every password is ``<first name>-password``. Returns ids."""
    from scalable_ai.course.service.people import add_person, set_password_hash

    ids = {}
    with unit_of_work(engine) as session:
        for key, (name, email, role) in people.items():
            person = add_person(session, STAFF_TOOL, name=name, email=email, role=role, clock=clock)
            session.flush()
            set_password_hash(
                session, STAFF_TOOL, person.id, hash_password(password_of(name)), clock=clock
            )
            ids[key] = person.id
    return ids


def password_of(name: str) -> str:
    return f"{name.split()[0].lower()}-password"


@pytest.fixture
def accounts(platform: Platform) -> dict[str, tuple[str, str]]:
    """Two students and a staff member: role → (e-mail, password)."""
    people = {
        "student": ("Ada Lovelace", "ada@test.example", "student"),
        "other_student": ("Bob Kahn", "bob@test.example", "student"),
        "staff": ("Tess Assistant", "ta@test.example", "staff"),
    }
    add_people(platform.engine, platform.clock, people)
    return {key: (email, password_of(name)) for key, (name, email, _) in people.items()}


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no form with a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str) -> None:
    page = client.get("/sign-in")
    answer = client.post(
        "/sign-in",
        data={"email": email, "password": password, "csrf_token": csrf_of(page.text), "next": "/"},
    )
    assert answer.status_code == 303, answer.text


def post_form(
    client: TestClient,
    page_url: str,
    action: str,
    data: dict | None = None,
    files: dict | None = None,
):
    """Submit a form the way a browser does: take the CSRF token from the page first."""
    token = csrf_of(client.get(page_url).text)
    return client.post(action, data={**(data or {}), "csrf_token": token}, files=files)


# Browser tests ---------------------------------------------------------------------------


def go_to(page: Any, label: str) -> None:
    """Follow a main-navigation link the way a person does: open its group's menu
    (Coursework, Compute, Community, Me) first when the link is inside one."""
    nav = page.get_by_role("navigation", name="Main")
    link = nav.get_by_role("link", name=label, exact=True)
    if not link.is_visible():
        menu = nav.locator("details.menu-group").filter(
            has=page.locator("a").filter(has_text=re.compile(f"^{re.escape(label)}$"))
        )
        menu.locator("summary").click()
    link.click()


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@dataclass
class LiveServer:
    url: str
    platform: Platform

    def screenshot(self, page: Any, name: str) -> Path:
        """Save a full-page PNG under ``test-artifacts/screenshots/`` (git-ignored)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def serve(platform: Platform) -> Iterator[LiveServer]:
    """The app under uvicorn in a thread (the same app ``sai up`` serves)."""
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(platform.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start within 20 s"
        time.sleep(0.02)
    yield LiveServer(url=f"http://127.0.0.1:{port}", platform=platform)
    server.should_exit = True
    thread.join(timeout=10)
    platform.engine.dispose()


@pytest.fixture(scope="module")
def live_server(course_database: Path, tmp_path_factory) -> Iterator[LiveServer]:
    """The Spring 2026 course with nobody in it yet, served for one test module."""
    yield from serve(open_platform(course_database, tmp_path_factory.mktemp("live")))


@pytest.fixture(scope="module")
def live_demo(demo_database: Path, tmp_path_factory) -> Iterator[LiveServer]:
    """The demo course (what ``sai up`` shows), served for one test module."""
    yield from serve(open_platform(demo_database, tmp_path_factory.mktemp("live-demo")))


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Open a fresh browser context (own cookies) per call: one per person in a test."""
    contexts = []

    def make(width: int = 1280, height: int = 900) -> Any:
        context = browser.new_context(
            viewport={"width": width, "height": height}, accept_downloads=True
        )
        # generous: a sign-in (argon2) on a CI machine under load took over 10 s to navigate
        context.set_default_timeout(30_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
