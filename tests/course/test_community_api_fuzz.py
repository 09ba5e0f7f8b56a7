"""The community routes' OpenAPI schema fuzzed with schemathesis, as the core API is (issue 3:
"fuzzed with schemathesis without a 500"): every operation of the community router, called as
staff and as a student on a throwaway SQLite course, a few examples each."""

from __future__ import annotations

import pytest
import schemathesis
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy.orm import Session

from scalable_ai.course.api import create_api
from scalable_ai.course.clock import FixedClock
from scalable_ai.course.community.api import router as community_router
from scalable_ai.course.community.api_project import router as project_router
from scalable_ai.course.community.api_qa import router as qa_router
from scalable_ai.course.db import make_engine, upgrade
from tests.course.conftest import MID_SEMESTER, load_seed
from tests.course.test_community_api import World

# The project and Q&A routes are included into the community router, which keeps each as one
# entry.
ROUTES = [
    r
    for each in (community_router, project_router, qa_router)
    for r in each.routes
    if isinstance(r, APIRoute)
]
COMMUNITY_PATHS = {route.path for route in ROUTES}


@pytest.fixture(scope="module")
def fuzz_world(new_sqlite_database):
    engine = make_engine(new_sqlite_database())
    upgrade(engine)
    clock = FixedClock(MID_SEMESTER)
    with Session(engine, expire_on_commit=False) as session:
        load_seed(session)
        world = World(session, clock)
    api = create_api(engine=engine, clock=clock)  # it mounts the community routes itself
    yield api, world
    engine.dispose()


@pytest.mark.parametrize("who", ["staff", "student"])
def test_no_community_route_answers_500(fuzz_world, who):
    app, world = fuzz_world
    token = world.staff_token if who == "staff" else world.student_token
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    operations = [op for op in operations if op.path in COMMUNITY_PATHS]
    assert len(operations) == sum(len(r.methods) for r in ROUTES) > 50
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=4,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def call(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error]
            )

        call()
