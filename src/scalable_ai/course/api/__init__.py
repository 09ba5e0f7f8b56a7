"""The course's JSON API (FastAPI, OpenAPI at ``/api/docs``), mounted at ``/api``.

Every route is a thin translation: a Pydantic schema in, one service use case in one unit of
work (committed before the answer is sent, rolled back on any error), a schema out. The
caller is the holder of a personal API token (``Authorization: Bearer <token>``, made with
``sai course token create`` or on the account page). A :class:`UserError` becomes a 4xx
answer ``{"error": {"message": ..., "field": ...}}``: 400 bad input, 401 no or bad token,
403 not allowed, 404 unknown id, 409 a rule refuses given what is stored, 422 malformed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from scalable_ai.course.api.context import ApiState, CredentialsBeforeBody, Unauthenticated
from scalable_ai.course.api.schemas import ErrorOut
from scalable_ai.course.clock import Clock, clock_from_env
from scalable_ai.course.db import make_engine, session_factory
from scalable_ai.course.service import Actor
from scalable_ai.errors import UserError

__all__ = ["create_api"]

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409)
}


def _error(
    status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        {"error": {"message": message, "field": field}}, status_code=status, headers=headers
    )


def create_api(
    *,
    engine: Engine | None = None,
    clock: Clock | None = None,
    sessions: sessionmaker[Session] | None = None,
    cookie_actor: Callable[[Request, Session], Actor | None] | None = None,
) -> FastAPI:
    """The API as an app to mount at ``/api`` (routes carry no prefix). ``cookie_actor``
    lets the web app also accept its signed-in browser sessions."""
    from scalable_ai.course.api import (
        routes_course,
        routes_grading,
        routes_groups,
        routes_peer_reviews,
        routes_people,
        routes_work,
    )

    engine = engine or make_engine()
    api = FastAPI(
        title="Scalable AI course platform API",
        version="1",
        description=__doc__,
        responses=ERROR_RESPONSES,
        docs_url=None,  # served by api.docs from the packaged Swagger UI (no CDN)
        redoc_url=None,
    )
    from scalable_ai.course.api.docs import serve_docs

    serve_docs(api)
    api.state.course_api = ApiState(
        sessions=sessions or session_factory(engine),
        clock=clock or clock_from_env(),
        cookie_actor=cookie_actor,
    )
    for module in (routes_people, routes_course, routes_groups, routes_work, routes_peer_reviews):
        api.include_router(module.router)
    api.include_router(routes_grading.router)
    # Imported here: the community routes import this package's context and schemas.
    from scalable_ai.course.community.api import router as community_router

    api.include_router(community_router)
    from scalable_ai.course.notify.api import router as notifications_router

    api.include_router(notifications_router)
    api.add_middleware(CredentialsBeforeBody, state=api.state.course_api)

    @api.exception_handler(UserError)
    async def user_error(_request: Request, exc: UserError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, Unauthenticated) else None
        return _error(exc.status_code, exc.message, exc.field, headers)

    @api.exception_handler(RequestValidationError)
    async def malformed(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or None
        return _error(422, str(first.get("msg", "malformed request")), where)

    @api.exception_handler(IntegrityError)
    async def integrity(_request: Request, _exc: IntegrityError) -> JSONResponse:
        return _error(409, "this conflicts with a change made at the same time; try again")

    @api.exception_handler(OperationalError)
    async def busy(_request: Request, _exc: OperationalError) -> JSONResponse:
        return _error(503, "the database is busy; try again", headers={"Retry-After": "1"})

    return api
