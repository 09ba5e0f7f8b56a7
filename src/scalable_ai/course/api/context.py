"""What each API request gets: one unit of work (a ``Session``), the actor behind the bearer
token, and the course clock."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from scalable_ai.course.clock import Clock
from scalable_ai.course.db import unit_of_work
from scalable_ai.course.service import Actor
from scalable_ai.course.service.credentials import actor_for_api_token
from scalable_ai.errors import Forbidden, UserError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class Unauthenticated(UserError):
    """No credentials, or credentials that do not work."""

    status_code = 401


@dataclass
class ApiState:
    sessions: sessionmaker[Session]
    clock: Clock
    cookie_actor: Callable[[Request, Session], Actor | None] | None = None


@dataclass
class Call:
    """One request's unit of work: ``session``, ``actor`` and ``clock``."""

    session: Session
    actor: Actor
    clock: Clock


def _state(request: Request) -> ApiState:
    return request.app.state.course_api


def _public(request: Request) -> Iterator[tuple[Session, Clock]]:
    state = _state(request)
    with unit_of_work(state.sessions) as session:
        yield session, state.clock


BEARER = HTTPBearer(
    auto_error=False,
    description="A personal API token (`sai course token create EMAIL`, or the account page).",
)


def _signed_in(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> Iterator[Call]:
    state = _state(request)
    writes = request.method not in SAFE_METHODS
    with unit_of_work(state.sessions, write=writes) as session:
        actor = None
        if bearer is not None and bearer.credentials.strip():
            try:
                actor = actor_for_api_token(
                    session, bearer.credentials.strip(), clock=state.clock, record_use=writes
                )
            except Forbidden:
                raise Unauthenticated(
                    "the API token is unknown or revoked", field="Authorization"
                ) from None
        elif state.cookie_actor is not None:
            actor = state.cookie_actor(request, session)
        if actor is None:
            raise Unauthenticated(
                "sign in: send Authorization: Bearer <your API token>", field="Authorization"
            )
        yield Call(session=session, actor=actor, clock=state.clock)


SignedIn = Annotated[Call, Depends(_signed_in, scope="function")]
Public = Annotated[tuple[Session, Clock], Depends(_public, scope="function")]


class CredentialsBeforeBody:
    """Pure ASGI middleware: a request that would change something (every method but GET,
    HEAD, OPTIONS) must carry a live API token, checked *before its body is read*: FastAPI
    parses a JSON body before any dependency runs, so without this an anonymous 1 GiB post
    was read (and held in memory) before its 401 (issue 21). Reads pass through: the routes
    check them, and some are public."""

    def __init__(self, app: Any, state: ApiState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        scheme, _, token = headers.get(b"authorization", b"").decode("latin-1").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            await _unauthenticated(send, "sign in: send Authorization: Bearer <your API token>")
            return
        if not await run_in_threadpool(self._live, token.strip()):
            await _unauthenticated(send, "the API token is unknown or revoked")
            return
        await self.app(scope, receive, send)

    def _live(self, token: str) -> bool:
        with self.state.sessions() as session:
            try:
                actor_for_api_token(session, token, clock=self.state.clock, record_use=False)
            except Forbidden:
                return False
            finally:
                session.rollback()
        return True


async def _unauthenticated(send: Any, message: str) -> None:
    body = json.dumps({"error": {"message": message, "field": "Authorization"}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 401,
            "headers": [
                (b"content-type", b"application/json"),
                (b"www-authenticate", b"Bearer"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
