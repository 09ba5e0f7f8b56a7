"""Syllabus: "We will finalize enrollment/compute allocations and related decisions by the end
of the second week (Jan 29)" and "Groups of 4–6". A student left not enrolled at
finalizing also leaves their group (audited); the others stay; a group left under 4 is
reported to staff, never dissolved. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

from scalable_ai.course import audit
from scalable_ai.course.clock import BERKELEY
from scalable_ai.course.community.service import questionnaire as q
from scalable_ai.course.policy.groups import Group, undersized_groups
from scalable_ai.course.service import groups as group_service
from scalable_ai.course.service.actors import current_group_id

BEFORE_FORMATION_DEADLINE = datetime(2026, 1, 29, 12, 0, tzinfo=BERKELEY)


def _not_enrolled(session, staff, person, clock) -> None:
    q.decide_enrollment(session, staff, person.id, enrolled=False, note="dropped", clock=clock)


def test_finalizing_takes_a_student_not_enrolled_out_of_their_group_and_audits_it(
    session, staff, clock, make_group
):
    group = make_group(5)
    leaving, *staying = group.members
    _not_enrolled(session, staff, leaving, clock)
    done = q.finalize_enrollment(session, staff, clock=clock)
    assert current_group_id(session, leaving.id) is None
    assert sorted(p.id for p in group.members) == sorted(p.id for p in staying)
    assert [(r.person.id, r.group.id) for r in done.removed] == [(leaving.id, group.id)]
    (entry,) = audit.entries(session, action_prefix="group.remove_not_enrolled")
    assert leaving.email in entry.before["members"]
    assert leaving.email not in entry.after["members"]
    assert done.short_groups == [] and done.warnings == []


def test_a_group_left_under_four_is_reported_to_staff_and_not_dissolved(
    session, staff, clock, make_group
):
    group = make_group(4)
    _not_enrolled(session, staff, group.members[0], clock)
    node = group.node_id
    done = q.finalize_enrollment(session, staff, clock=clock)
    assert done.short_groups == [group]
    assert f"{group.name} has 3 member(s)" in done.warnings[0]
    assert len(group.members) == 3 and group.confirmed_at is not None and group.node_id == node


def test_once_enrollment_is_final_a_short_group_is_flagged_before_the_formation_deadline(
    session, staff, clock, make_group
):
    clock.at = BEFORE_FORMATION_DEADLINE
    group = make_group(4)
    _not_enrolled(session, staff, group.members[0], clock)
    assert group_service.undersized_groups(session, staff, clock=clock) == []
    q.finalize_enrollment(session, staff, clock=clock)
    assert group_service.undersized_groups(session, staff, clock=clock) == [group]


def test_a_final_enrollment_flags_short_groups_whatever_the_day():
    groups = [Group("g1", ("a", "b", "c")), Group("g2", ("d", "e", "f", "g"))]
    deadline = BEFORE_FORMATION_DEADLINE.replace(hour=23, minute=59)
    assert undersized_groups(groups, BEFORE_FORMATION_DEADLINE, deadline) == []
    flagged = undersized_groups(groups, BEFORE_FORMATION_DEADLINE, deadline, enrollment_final=True)
    assert [g.id for g in flagged] == ["g1"]


def test_the_finalize_answer_names_who_left_which_group_and_warns_of_short_groups(api_world):
    client, world = api_world
    staff = {"Authorization": f"Bearer {world.staff_token}"}
    answer = client.post(
        f"/api/people/{world.teammate.id}/enrollment",
        json={"enrolled": False, "note": "dropped"},
        headers=staff,
    )
    assert answer.status_code == 200, answer.text
    done = client.post("/api/questionnaire/finalize", headers=staff)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["removed_from_groups"] == [
        {"person_id": world.teammate.id, "group_id": world.group_a.id, "group_name": "Alpha"}
    ]
    assert body["short_groups"] == [
        {"group_id": world.group_a.id, "group_name": "Alpha", "members": 3}
    ]
    assert "under the minimum of 4" in body["warnings"][0]
    alpha = client.get(f"/api/groups/{world.group_a.id}", headers=staff).json()
    assert world.teammate.id not in [m["id"] for m in alpha["members"]]
