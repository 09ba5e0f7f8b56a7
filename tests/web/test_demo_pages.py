"""The demo course ``sai up`` serves: a newcomer signs in with the printed credentials and
every main page answers (issue 4: "make run opens a seeded course a newcomer can sign into
with printed demo credentials")."""

from __future__ import annotations

import pytest

from scalable_ai.course.demo import DEMO_CREDENTIALS
from tests.web.conftest import sign_in

STUDENT_PAGES = [
    "/",
    "/grade",
    "/schedule",
    "/schedule?view=all",
    "/assignments",
    "/assignments/A3",
    "/group",
    "/nodes",
    "/checkoffs",
    "/peer-review",
    "/runs",
    "/account",
]
STAFF_PAGES = [
    "/staff",
    "/staff/roster",
    "/staff/groups",
    "/staff/nodes",
    "/staff/grades",
    "/staff/grades.csv",
    "/staff/grades/canvas.csv",
    "/staff/slack",
    "/staff/scribes",
    "/staff/peer-reviews",
    "/staff/checkoffs",
    "/schedule",
    "/runs",
    "/account",
]


@pytest.mark.parametrize(("role", "email", "password"), DEMO_CREDENTIALS)
def test_every_demo_sign_in_printed_by_sai_up_works(demo_platform, role, email, password):
    sign_in(demo_platform.client, email, password)
    for url in STAFF_PAGES if role == "staff" else STUDENT_PAGES:
        answer = demo_platform.client.get(url)
        assert answer.status_code == 200, (url, answer.text[:500])


def test_the_dashboard_shows_the_grade_the_service_computes(demo_platform):
    """The dashboard reads the slack-day ledger once; its grade must be ``grade_of``'s."""
    from scalable_ai.course.db import unit_of_work
    from scalable_ai.course.service import Actor
    from scalable_ai.course.service.grades import grade_of
    from scalable_ai.course.service.people import find_by_email
    from scalable_ai.course.web.panels import my_standing

    with unit_of_work(demo_platform.engine) as session:
        for email in ("ada.ng@example.edu", "katherine.mccarthy@example.edu"):  # no slack / slack
            person = find_by_email(session, email)
            actor = Actor.of(person)
            clock = demo_platform.clock
            _balance, running = my_standing(session, actor, person.id, clock=clock)
            assert running == grade_of(session, actor, person.id, clock=clock).running
