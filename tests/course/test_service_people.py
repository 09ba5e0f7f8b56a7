"""People, credentials and settings: staff keep the roster, a student edits only their own
name, tokens are shown once and stored hashed, settings are validated as a whole. Runs on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from scalable_ai.course.service import Actor, credentials, people
from scalable_ai.course.service.course import settings_of
from scalable_ai.course.service.setup import update_settings
from scalable_ai.course.tables import ApiToken, AuditEntry
from scalable_ai.errors import Conflict, Forbidden, UserError


def test_emails_are_unique_whatever_their_case(session, staff, clock):
    people.add_person(session, staff, name="Ada", email="Ada@Example.edu", clock=clock)
    with pytest.raises(Conflict):
        people.add_person(session, staff, name="Ada 2", email="ada@example.edu", clock=clock)


def test_a_student_changes_only_their_own_name(session, enroll, clock):
    ada, bob = enroll(2)
    people.update_person(session, Actor.of(ada), ada.id, name="Ada L.", clock=clock)
    with pytest.raises(UserError):
        people.update_person(session, Actor.of(ada), ada.id, email="x@example.edu", clock=clock)
    with pytest.raises(Forbidden):
        people.update_person(session, Actor.of(ada), bob.id, name="Bobby", clock=clock)


def test_an_api_token_is_shown_once_and_stored_hashed(session, enroll, clock):
    (ada,) = enroll(1)
    row, token = credentials.create_api_token(
        session, Actor.of(ada), person_id=ada.id, name="laptop", clock=clock
    )
    stored = session.scalar(select(ApiToken.token_hash).where(ApiToken.id == row.id))
    assert token not in stored and len(stored) == 64
    assert credentials.actor_for_api_token(session, token, clock=clock).person_id == ada.id
    credentials.revoke_api_token(session, Actor.of(ada), row.id, clock=clock)
    with pytest.raises(Forbidden):
        credentials.actor_for_api_token(session, token, clock=clock)


def test_a_web_session_expires_and_can_be_ended(session, enroll, clock):
    (ada,) = enroll(1)
    token = credentials.start_web_session(session, ada, clock=clock, lifetime=timedelta(hours=1))
    assert credentials.person_for_web_session(session, token, clock=clock) == ada
    later = type(clock)(clock.now() + timedelta(hours=2))
    assert credentials.person_for_web_session(session, token, clock=later) is None
    credentials.end_web_session(session, token, clock=clock)
    assert credentials.person_for_web_session(session, token, clock=clock) is None


def test_a_new_calendar_link_revokes_the_old_one(session, enroll, clock):
    (ada,) = enroll(1)
    first = credentials.issue_calendar_token(session, Actor.of(ada), ada.id, clock=clock)
    second = credentials.issue_calendar_token(session, Actor.of(ada), ada.id, clock=clock)
    assert credentials.person_for_calendar_token(session, first) is None
    assert credentials.person_for_calendar_token(session, second) == ada


def test_a_private_key_is_refused_as_an_ssh_key(session, enroll, clock):
    (ada,) = enroll(1)
    with pytest.raises(UserError, match="private key"):
        credentials.add_ssh_key(
            session,
            Actor.of(ada),
            person_id=ada.id,
            public_key="-----BEGIN OPENSSH PRIVATE KEY-----",
            clock=clock,
        )


def test_a_roster_import_skips_known_emails_and_names_a_bad_row(session, staff, clock):
    rows = [
        {"name": "Ada", "email": "ada@example.edu", "sid": "1"},
        {"name": "Bob", "email": "bob@example.edu", "sid": "2"},
    ]
    assert len(people.import_roster(session, staff, rows, clock=clock)) == 2
    assert people.import_roster(session, staff, rows, clock=clock) == []
    with pytest.raises(UserError, match="row 2"):
        people.import_roster(session, staff, [{"name": "X", "email": "not-an-email"}], clock=clock)


def test_settings_change_as_a_whole_and_are_audited(session, staff, clock):
    update_settings(session, staff, {"deadline_time": "17:00", "slack_days_total": 4}, clock=clock)
    assert settings_of(session).slack_days_total == 4
    with pytest.raises(UserError) as caught:
        update_settings(session, staff, {"slack_days_per_assignment": 9}, clock=clock)
    assert caught.value.field == "settings.slack_days_per_assignment"
    assert (
        session.scalars(select(AuditEntry).where(AuditEntry.action == "course.settings"))
        .one()
        .after["settings"]["slack_days_total"]
        == 4
    )


@pytest.mark.parametrize(
    "change",
    [
        {"deadline_time": 99999},
        {"peer_review_weight": "a"},
        {"letter_cutoffs": [None]},
        {"unknown_setting": 1},
    ],
)
def test_wrongly_typed_settings_are_refused(session, staff, clock, change):
    with pytest.raises(UserError):
        update_settings(session, staff, change, clock=clock)
