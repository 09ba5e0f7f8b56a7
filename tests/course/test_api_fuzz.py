"""The API's OpenAPI schema fuzzed with schemathesis (issue 3: "the API's OpenAPI schema is
fuzzed with schemathesis without a 500"). Examples are capped so the run stays well under a
minute; the calls are made as staff (who reach every route) and as a student (who meets every
refusal), on a throwaway SQLite course."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from sqlalchemy.orm import Session

from scalable_ai.course.api import create_api
from scalable_ai.course.clock import FixedClock
from scalable_ai.course.db import make_engine, upgrade
from tests.course.conftest import MID_SEMESTER, load_seed
from tests.course.world import World


@pytest.fixture(scope="module")
def fuzz_world(new_sqlite_database):
    engine = make_engine(new_sqlite_database())
    upgrade(engine)
    clock = FixedClock(MID_SEMESTER)
    with Session(engine, expire_on_commit=False) as session:
        load_seed(session)
        world = World(session, clock)
    yield create_api(engine=engine, clock=clock), world
    engine.dispose()


@pytest.mark.parametrize("role", ["staff", "student"])
def test_no_route_answers_500(fuzz_world, role):
    app, world = fuzz_world
    token = world.staff_token if role == "staff" else world.student_token
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 50
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=4 if role == "staff" else 2,
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
