"""The small course the API tests run against (a helper, built once per worker by the
``world_engines`` fixture in conftest)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from scalable_ai.course.clock import FixedClock


class World:
    """A small course for API tests: two confirmed groups of four, staff, tokens, a
    reservation between the groups' nodes, a slot, a scribe deal and peer reviews."""

    def __init__(self, session: Session, clock: FixedClock) -> None:
        from datetime import timedelta

        from scalable_ai.course.service import Actor, activities, credentials, groups, nodes, people
        from scalable_ai.course.service import slack as slack_service

        staff = Actor.local_staff("tests")
        self.staff_person = people.add_person(
            session,
            staff,
            name="Haocheng Xi",
            email="ta@example.edu",
            role="staff",
            staff_title="Teaching",
            clock=clock,
        )
        students = [
            people.add_person(
                session, staff, name=f"Student {i}", email=f"s{i}@example.edu", clock=clock
            )
            for i in range(9)
        ]
        session.flush()
        self.group_a = groups.propose_group(
            session, staff, name="Alpha", member_ids=[s.id for s in students[:4]], clock=clock
        )
        self.group_b = groups.propose_group(
            session, staff, name="Beta", member_ids=[s.id for s in students[4:8]], clock=clock
        )
        for group in (self.group_a, self.group_b):
            groups.confirm_group(session, staff, group.id, clock=clock)
        self.me, self.teammate, self.other = students[0], students[1], students[4]
        self.loner = students[8]
        self.reservation = nodes.request_reservation(
            session,
            Actor.of(self.other),
            node_ids=[self.group_b.node_id, self.group_a.node_id],
            starts_at=clock.now() + timedelta(days=1),
            ends_at=clock.now() + timedelta(days=1, hours=6),
            clock=clock,
        )
        self.slot = activities.create_slot(
            session,
            staff,
            kind="checkoff",
            assignment="A1",
            capacity=3,
            starts_at=clock.now() + timedelta(days=6),
            ends_at=clock.now() + timedelta(days=6, minutes=30),
            clock=clock,
        )
        session.flush()
        self.other_signup = activities.sign_up(
            session, Actor.of(self.other), self.slot.id, clock=clock
        )
        self.scribes = activities.assign_scribes(session, staff, clock=clock)
        activities.assign_peer_reviews(session, staff, clock=clock)
        self.other_slack = slack_service.spend_slack_day(
            session, Actor.of(self.other), group_id=self.group_b.id, assignment="A1", clock=clock
        )
        self.exception = slack_service.grant_exception(
            session,
            staff,
            person_id=self.other.id,
            assignment="A2",
            new_deadline=clock.now() + timedelta(days=30),
            reason="illness",
            clock=clock,
        )
        key = (
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
            " other@laptop"
        )
        self.other_key = credentials.add_ssh_key(
            session, Actor.of(self.other), person_id=self.other.id, public_key=key, clock=clock
        )
        self.other_token_row, _ = credentials.create_api_token(
            session, Actor.of(self.other), person_id=self.other.id, name="laptop", clock=clock
        )
        _, self.student_token = credentials.create_api_token(
            session, staff, person_id=self.me.id, name="tests", clock=clock
        )
        _, self.staff_token = credentials.create_api_token(
            session, staff, person_id=self.staff_person.id, name="tests", clock=clock
        )
        session.commit()
