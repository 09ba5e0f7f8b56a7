"""Groups of 4–6, one per student, formed by students until the formation deadline, one node
each from a pool of 8 (syllabus: "Compute"; issue 3). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from scalable_ai.course.clock import BERKELEY, FixedClock
from scalable_ai.course.service import Actor
from scalable_ai.course.service import groups as service
from scalable_ai.course.tables import AuditEntry, GroupMembership
from scalable_ai.errors import Conflict, Forbidden, NotFound, UserError

BEFORE_FORMATION = datetime(2026, 1, 26, 12, 0, tzinfo=BERKELEY)


def test_students_form_a_group_by_invitation_before_the_deadline(session, enroll):
    clock = FixedClock(BEFORE_FORMATION)
    ada, bob = enroll(2)
    group = service.create_group(session, Actor.of(ada), name="Gradient Gang", clock=clock)
    invitation = service.invite_to_group(
        session, Actor.of(ada), group.id, person_id=bob.id, clock=clock
    )
    service.answer_invitation(session, Actor.of(bob), invitation.id, accept=True, clock=clock)
    assert {p.email for p in group.members} == {ada.email, bob.email}


def test_students_cannot_form_groups_after_the_formation_deadline(session, enroll, clock):
    (ada,) = enroll(1)
    with pytest.raises(Forbidden, match="group formation closed"):
        service.create_group(session, Actor.of(ada), name="Late", clock=clock)


def test_a_student_is_in_at_most_one_group(session, enroll, make_group, staff, clock):
    group = make_group(4)
    others = enroll(4)
    with pytest.raises(Conflict, match="at most one group"):
        service.propose_group(
            session,
            staff,
            name="Twice",
            member_ids=[group.members[0].id] + [p.id for p in others[:3]],
            clock=clock,
        )


def test_a_seventh_group_member_is_refused_and_nothing_is_stored(
    session, make_group, enroll, staff, clock
):
    group = make_group(6)
    (extra,) = enroll(1)
    count = session.scalar(select(func.count()).select_from(GroupMembership))
    with pytest.raises(Conflict, match="already has 6 members"):
        service.move_student(session, staff, extra.id, to_group_id=group.id, clock=clock)
    assert session.scalar(select(func.count()).select_from(GroupMembership)) == count


def test_staff_confirm_only_groups_of_four_to_six(session, make_group, staff, clock):
    group = make_group(4, confirm=False)
    member = group.members[0]
    service.move_student(session, staff, member.id, to_group_id=None, clock=clock)
    with pytest.raises(UserError, match="4–6"):
        service.confirm_group(session, staff, group.id, clock=clock)


def test_each_group_gets_one_node_and_a_ninth_group_is_refused_naming_the_pool(session, make_group):
    nodes = {make_group(4).node.name for _ in range(8)}
    assert len(nodes) == 8
    with pytest.raises(Conflict, match="node pool has 8 nodes"):
        make_group(4)


def test_a_group_under_four_at_the_deadline_is_flagged_for_staff(session, make_group, staff, clock):
    small = make_group(4, confirm=False)
    service.move_student(session, staff, small.members[0].id, to_group_id=None, clock=clock)
    make_group(5)
    flagged = service.undersized_groups(session, staff, clock=clock)
    assert [g.name for g in flagged] == [small.name]


def test_a_student_sees_only_their_own_group(session, make_group):
    mine, other = make_group(4), make_group(4)
    me = Actor.of(mine.members[0])
    assert [g.id for g in service.list_groups(session, me)] == [mine.id]
    with pytest.raises(Forbidden):
        service.show_group(session, me, other.id)


def test_unknown_group_ids_are_not_found(session, staff, clock):
    with pytest.raises(NotFound):
        service.confirm_group(session, staff, 999_999, clock=clock)


def test_group_changes_are_audited_with_before_and_after(session, make_group, staff, clock):
    group = make_group(4)
    service.move_student(session, staff, group.members[0].id, to_group_id=None, clock=clock)
    entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "group.move_out")).one()
    assert len(entry.before["members"]) == 4 and len(entry.after["members"]) == 3


def test_a_student_leaves_their_group_before_the_deadline_but_not_after(session, enroll):
    before = FixedClock(BEFORE_FORMATION)
    ada, bob = enroll(2)
    group = service.create_group(session, Actor.of(ada), name="Short Lived", clock=before)
    invitation = service.invite_to_group(
        session, Actor.of(ada), group.id, person_id=bob.id, clock=before
    )
    service.answer_invitation(session, Actor.of(bob), invitation.id, accept=True, clock=before)
    service.leave_group(session, Actor.of(bob), group.id, clock=before)
    assert [p.email for p in group.members] == [ada.email]
    after = FixedClock(datetime(2026, 2, 2, 9, 0, tzinfo=BERKELEY))
    with pytest.raises(Forbidden, match="ask staff"):
        service.leave_group(session, Actor.of(ada), group.id, clock=after)


def test_an_invited_student_who_declines_stays_out(session, enroll):
    before = FixedClock(BEFORE_FORMATION)
    ada, bob = enroll(2)
    group = service.create_group(session, Actor.of(ada), name="Solo", clock=before)
    invitation = service.invite_to_group(
        session, Actor.of(ada), group.id, person_id=bob.id, clock=before
    )
    with pytest.raises(Forbidden):
        service.answer_invitation(session, Actor.of(ada), invitation.id, accept=True, clock=before)
    service.answer_invitation(session, Actor.of(bob), invitation.id, accept=False, clock=before)
    assert [p.email for p in group.members] == [ada.email]
    assert (
        session.scalar(
            select(func.count())
            .select_from(GroupMembership)
            .where(GroupMembership.person_id == bob.id)
        )
        == 0
    )
