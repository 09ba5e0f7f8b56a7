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
    from scalable_ai.course.demo import seed_demo

    from scalable_ai.course.db import unit_of_work

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
