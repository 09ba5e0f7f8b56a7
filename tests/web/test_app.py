"""The one app ``sai up`` serves: the pages and the JSON API together, and ``sai up`` itself
(migrate, seed the demo once, pin the clock mid-semester, print URLs and credentials)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from scalable_ai.course.demo import DEMO_CREDENTIALS
from scalable_ai.up import DEMO_NOW, prepare_course
from tests.web.conftest import _free_port, csrf_of, sign_in

STUDENT = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "student")


def test_the_json_api_is_mounted_under_api_with_its_docs(demo_platform):
    assert demo_platform.client.get("/api/docs").status_code == 200
    assert "/me" in demo_platform.client.get("/api/openapi.json").json()["paths"]


def test_a_signed_in_browser_reads_the_api_with_its_cookie_but_cannot_write(demo_platform):
    sign_in(demo_platform.client, *STUDENT)
    me = demo_platform.client.get("/api/me")
    assert me.status_code == 200 and me.json()["email"] == STUDENT[0]
    write = demo_platform.client.post("/api/groups", json={"name": "Cookie Cutters"})
    assert write.status_code == 401


def test_the_sign_in_form_carries_a_csrf_token_and_the_cookie_is_secure_over_https(demo_platform):
    client = demo_platform.new_client()
    client.base_url = "https://testserver"
    page = client.get("/sign-in")
    assert csrf_of(page.text)
    assert "secure" in page.headers["set-cookie"].lower()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _running(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie waiting to be reaped counts as stopped)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _command_of(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except FileNotFoundError:
        return "(gone)"


def _start_sai_up(tmp_path, port: int, *options: str, wait_s: float = 60) -> subprocess.Popen:
    """``sai up --no-model`` on ``port`` with the demo clock, once it answers /sign-in."""
    env = {**os.environ, "SAI_DATA_DIR": str(tmp_path / "data"), "SAI_NOW": "2026-03-05T10:00"}
    env.pop("SAI_DATABASE_URL", None)
    command = [sys.executable, "-m", "scalable_ai.cli", "up", "--no-model", "--port", str(port)]
    process = subprocess.Popen(
        [*command, *options], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    deadline = time.monotonic() + wait_s
    while True:
        if process.poll() is not None:
            raise AssertionError(process.stdout.read())
        try:
            if httpx.get(f"http://127.0.0.1:{port}/sign-in", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"sai up {' '.join(options)} did not answer within {wait_s} s")
        time.sleep(0.3)


def test_sai_up_serves_the_demo_and_prints_urls_credentials_and_clock(tmp_path):
    port = _free_port()
    process = _start_sai_up(tmp_path, port)
    try:
        children = _children(process.pid)
    finally:
        process.terminate()  # SIGTERM, as a service manager stops it
        output = process.communicate(timeout=20)[0]
    # issue 13: its children stop with it (the model server was still alive minutes later)
    assert children and all(not _running(pid) for pid in children), children
    assert process.returncode == 128 + signal.SIGTERM
    assert f"http://127.0.0.1:{port}/" in output
    assert STUDENT[0] in output and STUDENT[1] in output
    assert "Thu Mar 5, 10:00 AM" in output
    database = Path(tmp_path) / "data" / "course.db"
    assert database.is_file()
    engine, clock, seeded_again = prepare_course(f"sqlite:///{database}", None)
    with engine.connect() as connection:  # the community side of the demo is seeded too
        threads = connection.exec_driver_sql("select count(*) from forum_threads").scalar()
    engine.dispose()
    assert threads > 0
    assert not seeded_again  # a second start keeps the course as it is
    assert clock.now().isoformat().startswith(DEMO_NOW)  # without SAI_NOW: mid-semester


def test_sai_up_with_two_workers_serves_from_two_processes_and_stops_them_all(tmp_path):
    """``sai up --workers 2`` (a deployment behind a reverse proxy, docs/course-platform.md):
    two uvicorn worker processes answer, and SIGTERM stops every process it started."""
    port = _free_port()
    process = _start_sai_up(tmp_path, port, "--workers", "2", wait_s=90)
    try:
        family = set(_children(process.pid))
        for pid in list(family):
            family |= set(_children(pid))
        workers = [
            pid
            for pid in family
            if "spawn_main" in Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
        ]
    finally:
        process.terminate()
        output = process.communicate(timeout=30)[0]
    assert len(workers) == 2, (workers, output)
    # A child may still be exiting when ``sai up`` itself has (its command line already
    # empty, not yet a zombie): give each a few seconds to finish.
    deadline = time.monotonic() + 10
    while (alive := {pid for pid in family if _running(pid)}) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not alive, ({pid: _command_of(pid) for pid in alive}, process.returncode, output)
    assert "Thu Mar 5, 10:00 AM" in output
