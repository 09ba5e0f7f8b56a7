"""``sai up``: the course platform on one port and, when it exists, the model server on the next.

What a newcomer runs first (``make run``). It brings the course database to the latest schema,
seeds the Spring 2026 demo course when the database is empty, pins the course clock
mid-semester (unless ``SAI_NOW`` says otherwise) so the demo has deadlines behind and ahead,
prints the URLs, the demo credentials and the clock, and serves until Ctrl-C. The inference
server (``sai serve smollm2-135m``) runs as its own process so that a model load never
stalls the pages; it is stopped when ``sai up`` stops.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from importlib.util import find_spec
from typing import Annotated

import typer

DEMO_NOW = "2026-03-05T10:00"  # Thursday of week 7: A3 due next Tuesday, proposal v2 graded
MODEL_NAME = "smollm2-135m"

up_app = typer.Typer(add_completion=False, help="Start the course platform (and the model server).")


def prepare_course(database_url: str, now_text: str | None) -> tuple[object, object, bool]:
    """Migrate the database, seed the demo course if it is empty, and make the course clock.

    Returns ``(engine, clock, seeded_now)``.
    """
    from sqlalchemy import func, select

    from scalable_ai.course.clock import FixedClock, parse_instant
    from scalable_ai.course.db import make_engine, unit_of_work, upgrade
    from scalable_ai.course.tables import Person

    clock = FixedClock(parse_instant(now_text or DEMO_NOW))
    engine = make_engine(database_url)
    upgrade(engine)
    with unit_of_work(engine) as session:
        empty = session.scalar(select(func.count()).select_from(Person)) == 0
        if empty:
            from scalable_ai.course.demo import seed_whole_demo

            seed_whole_demo(session, clock)
    return engine, clock, empty


def start_model_server(host: str, port: int) -> subprocess.Popen[bytes] | None:
    """``sai serve smollm2-135m`` on ``port`` as a child process, if the inference module exists."""
    if find_spec("scalable_ai.infer.cli") is None:
        return None
    command = [
        sys.executable,
        "-m",
        "scalable_ai.cli",
        "serve",
        MODEL_NAME,
        "--host",
        host,
        "--port",
        str(port),
    ]
    return subprocess.Popen(command)


def start_grading_worker(now_text: str) -> subprocess.Popen[bytes]:
    """The autograder's worker (``scalable_ai.kits.worker``), on the same database and clock."""
    env = {**os.environ, "SAI_NOW": now_text, "SAI_WORKER_PARENT": str(os.getpid())}
    return subprocess.Popen([sys.executable, "-m", "scalable_ai.kits.worker"], env=env)


def start_notifications_worker(now_text: str) -> subprocess.Popen[bytes]:
    """The notifications worker (``scalable_ai.course.notify.worker``): deadline reminders
    and e-mail every minute, on the same database and clock (issue 13)."""
    env = {**os.environ, "SAI_NOW": now_text, "SAI_WORKER_PARENT": str(os.getpid())}
    return subprocess.Popen([sys.executable, "-m", "scalable_ai.course.notify.worker"], env=env)


def demo_credentials() -> list[tuple[str, str, str]]:
    """(role, e-mail, password) rows the demo seed created, for the banner."""
    from scalable_ai.course import demo

    return list(getattr(demo, "DEMO_CREDENTIALS", []))


@up_app.command()
def up(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option(help="Port of the course platform; the model is on the next.")
    ] = 8000,
    no_model: Annotated[
        bool, typer.Option("--no-model", help="Start the course platform only.")
    ] = False,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="Worker processes serving the pages (one per core; see docs/course-platform.md"
            ", Deploying).",
        ),
    ] = 1,
) -> None:
    """Start the course platform (seeded demo course, clock mid-semester) and the model server."""
    import uvicorn

    from scalable_ai.course.web import create_app
    from scalable_ai.course.web.rendering import berkeley
    from scalable_ai.settings import get_settings

    settings = get_settings()
    engine, clock, seeded = prepare_course(settings.database_url, settings.now)
    child = None if no_model else start_model_server(host, port + 1)
    grader = start_grading_worker(settings.now or DEMO_NOW)
    notifier = start_notifications_worker(settings.now or DEMO_NOW)
    if child is not None:  # the chat playground page talks to it (course.web.views.playground)
        os.environ.setdefault("SAI_MODEL_URL", f"http://{host}:{port + 1}/v1")

    url = f"http://{host}:{port}/"
    typer.echo(f"Course platform: {url}")
    if child is not None:
        typer.echo(f"Model server:    http://{host}:{port + 1}/v1  (OpenAI API, {MODEL_NAME})")
    elif not no_model:
        typer.echo("Model server:    not started (scalable_ai.infer is not built yet)")
    typer.echo(f"Autograder:      worker process {grader.pid} (kit hand-ins, docs/kits.md)")
    typer.echo(
        f"Notifications:   worker process {notifier.pid} (reminders; e-mail via SAI_SMTP_HOST)"
    )
    typer.echo(
        f"Database:        {settings.database_url}" + ("  (demo course seeded)" if seeded else "")
    )
    typer.echo(
        f"Course clock:    {berkeley(clock.now())} Berkeley time "  # type: ignore[attr-defined]
        f"(pinned; set SAI_NOW to move it)"
    )
    rows = demo_credentials()
    if rows:
        typer.echo("Demo sign-ins:")
        for role, email, password in rows:
            typer.echo(f"  {role:<8} {email:<36} password: {password}")
    # uvicorn answers SIGTERM by shutting down and then raising the signal again with the
    # handler it found; with Python's default one that kills this process before the
    # ``finally`` below, and the children lived on (issue 13). Ours turns it into SystemExit.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        # X-Forwarded-For is believed only from SAI_TRUSTED_PROXIES (course.web.limits), not
        # from whoever connects from 127.0.0.1, as uvicorn's proxy_headers default would.
        if workers == 1:
            app = create_app(settings, clock, engine=engine)  # type: ignore[arg-type]
            uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
        else:
            # Each worker process builds its own app (and engine) from the environment; the
            # course clock travels as SAI_NOW so every worker shows the same "now".
            engine.dispose()  # type: ignore[attr-defined]
            os.environ["SAI_NOW"] = settings.now or DEMO_NOW
            uvicorn.run(
                "scalable_ai.course.web.app:app_from_env",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_level="warning",
                proxy_headers=False,
            )
    finally:
        stop_children([p for p in (notifier, grader, child) if p is not None])


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def stop_children(children: list[subprocess.Popen[bytes]], timeout_s: float = 10) -> None:
    """Terminate every child still running, wait for each, kill any that does not stop."""
    for process in children:
        if process.poll() is None:
            process.terminate()
    for process in children:
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
