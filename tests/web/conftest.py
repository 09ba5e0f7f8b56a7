"""Fixtures for the web pages: a migrated, demo-seeded SQLite course per test (copied from one
seeded file, so seeding runs once per worker), an HTTP client, and — for browser tests — the
real platform served by uvicorn on a free port with Playwright's chromium pointed at it."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from scalable_ai.course.clock import FixedClock, parse_instant
from scalable_ai.course.db import make_engine, upgrade
from scalable_ai.course.web import create_app
from scalable_ai.course.web.security import SignInLimiter
from scalable_ai.settings import Settings

MID_SEMESTER = "2026-03-05T10:00"  # a Thursday: L14, A3 due the next Tuesday
SECRET = "test-secret-key-that-is-long-enough-to-sign-cookies"


def seed_course(engine: Engine, clock: FixedClock) -> None:
    """The demo course, as ``sai up`` seeds it."""
    from importlib.util import find_spec

    from scalable_ai.course.db import unit_of_work

    if find_spec("scalable_ai.course.demo") is None:  # TEMPORARY until the demo lands
        import yaml

        from scalable_ai.course.service import Actor
        from scalable_ai.course.service.setup import init_course
        from scalable_ai.course.spec import default_spec_path

        with unit_of_work(engine) as session:
            init_course(session, Actor.local_staff(),
                        yaml.safe_load(default_spec_path().read_text()), clock=clock)
        return
    from scalable_ai.course.demo import seed_demo

    with unit_of_work(engine) as session:
        seed_demo(session, clock)


@pytest.fixture(scope="session")
def seeded_database(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("seeded")
    path = folder / "course.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    seed_course(engine, FixedClock(parse_instant(MID_SEMESTER)))
    engine.dispose()
    return path


@dataclass
class Platform:
    app: FastAPI
    client: TestClient
    engine: Engine
    clock: FixedClock
    settings: Settings

    def new_client(self) -> TestClient:
        return TestClient(self.app, follow_redirects=False)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "page has no form with a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str) -> None:
    page = client.get("/sign-in")
    answer = client.post("/sign-in", data={"email": email, "password": password,
                                           "csrf_token": csrf_of(page.text), "next": "/"})
    assert answer.status_code == 303, answer.text


def post_form(client: TestClient, page_url: str, action: str, data: dict | None = None,
              files: dict | None = None):
    """Submit a form the way a browser does: take the CSRF token from the page first."""
    token = csrf_of(client.get(page_url).text)
    return client.post(action, data={**(data or {}), "csrf_token": token}, files=files)


@pytest.fixture
def accounts(platform: Platform) -> dict[str, tuple[str, str]]:
    """Two students and a staff member made through the service layer, with known passwords
    (role → (e-mail, password)), independent of the demo roster."""
    from scalable_ai.course.db import unit_of_work
    from scalable_ai.course.service import Actor
    from scalable_ai.course.service.people import add_person, set_password_hash
    from scalable_ai.course.web.security import hash_password

    made = {"student": ("ada@test.example", "ada-password-1"),
            "other_student": ("bob@test.example", "bob-password-2"),
            "staff": ("ta@test.example", "ta-password-3")}
    staff_tool = Actor.local_staff()
    with unit_of_work(platform.engine) as session:
        for key, (email, password) in made.items():
            person = add_person(session, staff_tool, name=key.replace("_", " ").title(),
                                email=email, role="staff" if key == "staff" else "student",
                                clock=platform.clock)
            session.flush()
            set_password_hash(session, staff_tool, person.id, hash_password(password),
                              clock=platform.clock)
    return made


@pytest.fixture
def platform(seeded_database: Path, tmp_path: Path) -> Iterator[Platform]:
    path = tmp_path / "course.db"
    shutil.copy(seeded_database, path)
    engine = make_engine(f"sqlite:///{path}")
    clock = FixedClock(parse_instant(MID_SEMESTER))
    settings = Settings(data_dir=tmp_path / "data", runs_dir=tmp_path / "runs",
                        database_url=f"sqlite:///{path}")
    app = create_app(settings, clock, engine=engine, secret_key=SECRET,
                     limiter=SignInLimiter(per_account=5, per_client=50))
    with TestClient(app, follow_redirects=False) as client:
        yield Platform(app=app, client=client, engine=engine, clock=clock, settings=settings)
    engine.dispose()


# Browser tests ---------------------------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@dataclass
class LiveServer:
    url: str
    platform: Platform

    def screenshot(self, page, name: str) -> Path:
        """Save a full-page PNG under ``test-artifacts/screenshots/`` (git-ignored)."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(seeded_database: Path, tmp_path_factory) -> Iterator[LiveServer]:
    """The real platform (the app ``sai up`` serves) under uvicorn in a thread, one per module."""
    import threading
    import time

    import uvicorn

    folder = tmp_path_factory.mktemp("live")
    path = folder / "course.db"
    shutil.copy(seeded_database, path)
    engine = make_engine(f"sqlite:///{path}")
    clock = FixedClock(parse_instant(MID_SEMESTER))
    settings = Settings(data_dir=folder / "data", runs_dir=folder / "runs",
                        database_url=f"sqlite:///{path}")
    app = create_app(settings, clock, engine=engine, secret_key=SECRET)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start within 20 s"
        time.sleep(0.02)
    platform = Platform(app=app, client=TestClient(app), engine=engine, clock=clock,
                        settings=settings)
    yield LiveServer(url=f"http://127.0.0.1:{port}", platform=platform)
    server.should_exit = True
    thread.join(timeout=10)
    engine.dispose()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (own cookies) per test, desktop width."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(10_000)
    tab = context.new_page()
    yield tab
    context.close()
