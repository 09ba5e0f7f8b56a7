"""Where the pages meet the core: the service layer's Actor and the JSON API.

Kept in one module so that a change in ``course.service`` or ``course.api`` touches one
place in the web package.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from scalable_ai.course.tables import Person
    from scalable_ai.course.web.app import WebState

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def actor_for(person: Person) -> Any:
    """The service layer's Actor for a signed-in person."""
    from scalable_ai.course.service.actors import Actor

    return Actor.of(person)


def cookie_actor_for(state: WebState) -> Any:
    """Let a signed-in browser read the JSON API with its session cookie. Only for reads:
    a write through the API needs a personal token, so the API needs no CSRF tokens."""
    from scalable_ai.course.service.credentials import person_for_web_session
    from scalable_ai.course.web.security import SESSION_COOKIE

    def cookie_actor(request: Request, session: Session) -> Any:
        if request.method not in SAFE_METHODS:
            return None
        cookie = state.codec.loads(request.cookies.get(SESSION_COOKIE))
        if not cookie.token:
            return None
        person = person_for_web_session(session, cookie.token, clock=state.clock)
        return actor_for(person) if person is not None else None

    return cookie_actor


def mount_api(app: FastAPI, api: ModuleType, state: WebState) -> None:
    """Mount ``course.api`` at ``/api`` (its OpenAPI docs at ``/api/docs``)."""
    app.mount(
        "/api",
        api.create_api(
            engine=state.engine,
            clock=state.clock,
            sessions=state.sessions,
            cookie_actor=cookie_actor_for(state),
        ),
    )
