"""Where the pages meet the core: the service layer's Actor and the JSON API.

Kept in one module so that a change in ``course.service`` or ``course.api`` touches one
place in the web package.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI

if TYPE_CHECKING:
    from scalable_ai.course.tables import Person
    from scalable_ai.course.web.app import WebState


def actor_for(person: Person) -> Any:
    """The service layer's Actor for a signed-in person."""
    from scalable_ai.course.service.actors import Actor

    return Actor.of(person)


def mount_api(app: FastAPI, api: ModuleType, state: WebState) -> None:
    """Mount ``course.api`` at ``/api``: an app factory taking the engine and clock, or a router."""
    factory = getattr(api, "create_api", None) or getattr(api, "create_app", None)
    if factory is not None:
        app.mount("/api", factory(engine=state.engine, clock=state.clock))
        return
    router = getattr(api, "router", None)
    if router is not None:
        app.include_router(router, prefix="/api")
