"""Finalizing enrollment on the web ("We will finalize enrollment ... by Jan 29"; "Groups of
4–6"): staff see who left which group and a warning for a group left under 4, on the
questionnaire page after finalizing and on the groups page."""

from __future__ import annotations

from scalable_ai.course.community.service import questionnaire
from scalable_ai.course.db import unit_of_work
from scalable_ai.course.service import groups, people
from tests.web.conftest import STAFF_TOOL, post_form, sign_in


def test_staff_are_warned_of_a_group_left_under_four_by_finalizing(platform, accounts):
    clock = platform.clock
    with unit_of_work(platform.engine) as session:
        members = [
            people.add_person(
                session,
                STAFF_TOOL,
                name=f"Member {i}",
                email=f"member{i}@test.example",
                clock=clock,
            )
            for i in range(4)
        ]
        session.flush()
        team = groups.propose_group(
            session, STAFF_TOOL, name="Short Team", member_ids=[p.id for p in members], clock=clock
        )
        groups.confirm_group(session, STAFF_TOOL, team.id, clock=clock)
        questionnaire.decide_enrollment(
            session, STAFF_TOOL, members[0].id, enrolled=False, clock=clock
        )
    sign_in(platform.client, *accounts["staff"])
    answer = post_form(platform.client, "/questionnaire", "/questionnaire/finalize")
    assert answer.status_code == 303
    after = platform.client.get(answer.headers["location"]).text
    assert "Member 0 left Short Team" in after
    assert 'class="flash flash-warning"' in after and "Short Team has 3 member(s)" in after
    page = platform.client.get("/staff/groups").text
    assert 'id="short-groups"' in page and "under the minimum of 4 members" in page
