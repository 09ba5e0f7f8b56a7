"""The course platform's web application: the JSON API under ``/api`` and the pages.

``create_app(settings, clock)`` is the one factory ``sai up``, the tests and the load
benchmark share. The pages are server-rendered Jinja with a little progressive enhancement
(``static/site.js``); every write goes through ``course.service`` with the signed-in
person's :class:`Actor`, so a page can do nothing the API would refuse.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment
from sqlalchemy import Engine
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session, sessionmaker
from starlette.exceptions import HTTPException as StarletteHTTPException

from scalable_ai.course.clock import Clock
from scalable_ai.course.db import make_engine, session_factory
from scalable_ai.course.web.limits import TrustedProxyHeaders, WebLimits
from scalable_ai.course.web.navigation import STAFF_NAV, STUDENT_NAV
from scalable_ai.course.web.ratelimit import ClientRateLimit
from scalable_ai.course.web.rendering import STATIC_DIR, make_environment, render_template
from scalable_ai.course.web.schedule_cache import ScheduleCache
from scalable_ai.course.web.security import (
    SecurityHeaders,
    SessionCodec,
    SignInLimiter,
    load_or_create_secret,
)
from scalable_ai.course.web.visit import SignInRequired, refusal, sign_in_url
from scalable_ai.errors import UserError
from scalable_ai.settings import Settings

if TYPE_CHECKING:
    from scalable_ai.course.tables import Person

log = logging.getLogger(__name__)


@dataclass
class WebState:
    """Everything a request needs that outlives it (one per app)."""

    settings: Settings
    clock: Clock
    engine: Engine
    sessions: sessionmaker[Session]
    codec: SessionCodec
    limiter: SignInLimiter
    templates: Environment
    limits: WebLimits = field(default_factory=WebLimits)
    schedule: ScheduleCache = field(default_factory=ScheduleCache)
    extra: dict[str, Any] = field(default_factory=dict)

    def navigation(self, me: Person | None) -> list[tuple[str, str]]:
        if me is None:
            return []
        return STAFF_NAV if me.is_staff else STUDENT_NAV


def _error_page(request: Request, status_code: int, title: str, message: str) -> Response:
    state: WebState = request.app.state.web
    if request.url.path.startswith("/api"):
        return JSONResponse({"detail": message}, status_code=status_code)
    html = render_template(
        state.templates,
        "error.html",
        {
            "title": title,
            "message": message,
            "me": None,
            "is_staff": False,
            "nav": [],
            "active": "",
            "now": state.clock.now(),
            "clock_pinned": state.clock.pinned,
            "csrf_token": "",
            "flashes": [],
        },
    )
    return HTMLResponse(html, status_code=status_code)


def _install_error_pages(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(sign_in_url(exc.next_url), status_code=303)

    @app.exception_handler(UserError)
    async def _user_error(request: Request, exc: UserError) -> Response:
        titles = {403: "Not allowed", 404: "Not found", 409: "Not possible"}
        message = str(exc) if request.url.path.startswith("/api") else refusal(exc)
        return _error_page(
            request, exc.status_code, titles.get(exc.status_code, "Cannot do that"), message
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code)
        titles = {404: "Not found", 405: "Not allowed"}
        message = "There is no page at this address." if exc.status_code == 404 else str(exc.detail)
        return _error_page(
            request, exc.status_code, titles.get(exc.status_code, "Cannot do that"), message
        )

    @app.exception_handler(OverflowError)
    @app.exception_handler(DataError)
    async def _no_such_id(request: Request, exc: Exception) -> Response:
        # An id past the database's integer range (``/qa/99999999999999999999``): SQLite
        # raises OverflowError, PostgreSQL a DataError. No row has it: 404, never 500.
        return _error_page(request, 404, "Not found", "There is no page at this address.")

    @app.exception_handler(RequestValidationError)
    async def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api"):
            return JSONResponse({"detail": exc.errors()}, status_code=422)
        fields = ", ".join(".".join(str(p) for p in e.get("loc", ())[1:]) for e in exc.errors())
        return _error_page(request, 422, "Cannot do that", f"missing or malformed: {fields}")


def _mount_api(app: FastAPI, state: WebState) -> None:
    """Mount the JSON API (``course.api``) when it is present: a router or a FastAPI app."""
    try:
        api = importlib.import_module("scalable_ai.course.api")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("scalable_ai.course.api"):
            log.info("course.api not present: pages only")
            return
        raise
    from scalable_ai.course.web.bridge import mount_api

    mount_api(app, api, state)


class CoursePlatform(FastAPI):
    """FastAPI with the platform's outermost layers around its whole stack, so that every
    answer, a 413, a 429 or a 500 included, carries the Content-Security-Policy, and a client
    over its limits is refused before anything else runs (``docs/security.md``)."""

    def build_middleware_stack(self) -> Any:
        state: WebState = self.state.web
        stack = ClientRateLimit(super().build_middleware_stack(), state.limits)
        return SecurityHeaders(TrustedProxyHeaders(stack, state.limits))


def pool_for(settings: Settings) -> dict[str, Any]:
    """PostgreSQL connections for one worker process: one per page-view thread and two for
    the event loop's own short reads (sign-in slots, the form's session check), so a view
    never waits for a connection that another view of the same process holds.
    SQLite keeps SQLAlchemy's defaults (its connections are files, not server processes)."""
    if not settings.database_url.startswith("postgresql"):
        return {}
    return {"pool_size": settings.web_threads + 2, "max_overflow": settings.web_threads}


def _thread_limit(threads: int) -> Any:
    """A lifespan giving this process's page views ``threads`` worker threads (AnyIO's
    default is 40). A sync view is CPU work in Python with short database waits; with 40
    threads in one process under load, every thread coming back from the database queues
    for the GIL behind the others (the convoy effect: Beazley, "Understanding the Python
    GIL", 2010), so a view that takes 5 ms alone took 150–480 ms at 50 users (RESULTS,
    "Course platform under load"). Requests over the limit wait in the event loop, in order,
    holding nothing."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> Any:
        import anyio.to_thread

        anyio.to_thread.current_default_thread_limiter().total_tokens = threads
        yield

    return lifespan


def create_app(
    settings: Settings,
    clock: Clock,
    *,
    engine: Engine | None = None,
    secret_key: str | None = None,
    limiter: SignInLimiter | None = None,
    limits: WebLimits | None = None,
) -> FastAPI:
    """The platform: pages at ``/``, the JSON API at ``/api``, static files at ``/static``.

    ``engine`` defaults to ``settings.database_url``; ``secret_key`` (signing session cookies)
    to one kept in the data dir; ``limits`` to the deployment's (``SAI_MAX_BODY_MIB``...).
    """
    engine = engine or make_engine(settings.database_url, **pool_for(settings))
    limits = limits or WebLimits.from_env()
    state = WebState(
        settings=settings,
        clock=clock,
        engine=engine,
        sessions=session_factory(engine),
        codec=SessionCodec(secret_key or load_or_create_secret(settings.data_dir)),
        limiter=limiter or SignInLimiter(),
        templates=make_environment(),
        limits=limits,
    )
    # The pages have no OpenAPI of their own; the mounted API serves /api/docs. Every body
    # is bounded while it is read; the upload routes set their own, larger bound.
    app = CoursePlatform(
        title="Scalable AI course platform",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        max_body_size=limits.body_bytes,
        lifespan=_thread_limit(settings.web_threads),
    )
    app.state.web = state
    _install_error_pages(app)
    _mount_api(app, state)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    from scalable_ai.course.web.views import include_views

    include_views(app)
    return app


def app_from_env() -> FastAPI:
    """The app for ``uvicorn --factory`` (one per worker process): settings and the course
    clock from the environment (``SAI_DATABASE_URL``, ``SAI_DATA_DIR``, ``SAI_NOW``)."""
    from scalable_ai.course.clock import clock_from_env
    from scalable_ai.settings import get_settings

    return create_app(get_settings(), clock_from_env())
