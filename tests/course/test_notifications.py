"""Notifications (issue 13), on SQLite and PostgreSQL: answers on followed threads,
announcements, exceptions decided, scores recorded and consent requests reach the bell of
the people concerned (never the one who acted, never a muted kind); the deadline reminder
comes 24 hours before a student's own deadline with their slack days left, once; and e-mail
goes through a real SMTP server (aiosmtpd, started here): one message per notification for
"each", one daily digest for "digest", nothing for "off"."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta
from email import message_from_bytes

import pytest

from scalable_ai.course.clock import BERKELEY, FixedClock
from scalable_ai.course.community.service import forum, qa_board
from scalable_ai.course.notify import events
from scalable_ai.course.notify.mail import Mailer, deliver, digest_due, send_digests
from scalable_ai.course.notify.reminders import remind_deadlines
from scalable_ai.course.service import Actor
from scalable_ai.course.service import slack as slack_service
from scalable_ai.course.service.grades import record_score
from scalable_ai.course.service.submissions import submit

A1_DUE = datetime(2026, 2, 10, 23, 59, tzinfo=BERKELEY)


def titles(session, person) -> list[str]:
    return [n.title for n in events.inbox(session, person.id)]


def test_followers_hear_of_answers_but_not_the_one_who_answered(session, staff, clock, enroll):
    ada, bob, cy = enroll(3)
    thread = forum.post_question(
        session, Actor.of(ada), category="A1", title="FSDP OOM", body="at 8", clock=clock
    )
    qa_board.set_following(session, Actor.of(cy), thread.id, following=True, clock=clock)
    events.save_settings(session, cy.id, email="digest", muted=["answer"])
    forum.answer(session, Actor.of(bob), thread.id, body="Shard the root", clock=clock)
    assert titles(session, ada) == ["New answer in “FSDP OOM”"]
    assert titles(session, bob) == []  # his own answer
    assert titles(session, cy) == []  # muted answers
    forum.answer(session, staff, thread.id, body="Yes, and reshard", clock=clock)
    assert events.unread_count(session, bob.id) == 1  # answering followed the thread
    assert events.mark_read(session, ada.id, at=clock.now()) == 2
    assert events.unread_count(session, ada.id) == 0


def test_an_announcement_reaches_everyone(session, staff, clock, enroll):
    ada, bob = enroll(2)
    forum.post_announcement(session, staff, title="A2 released", body="Go", clock=clock)
    assert titles(session, ada) == titles(session, bob) == ["Announcement: A2 released"]


def test_a_group_hears_its_exception_decided(session, staff, clock, make_group):
    group = make_group(4)
    row = slack_service.grant_exception(
        session,
        staff,
        group_id=group.id,
        assignment="A1",
        new_deadline=A1_DUE + timedelta(days=3),
        reason="node outage",
        clock=clock,
    )
    for member in group.members:
        [told] = events.inbox(session, member.id)
        assert told.title.startswith("Exception approved for A1: new deadline")
        assert told.body == "node outage"
    slack_service.revoke_exception(session, staff, row.id, clock=clock)
    assert titles(session, group.members[0])[0] == (
        "Exception for A1 revoked: the regular deadline applies"
    )


def test_a_score_is_released_once_and_a_change_renews_it(session, staff, clock, enroll):
    [ada] = enroll(1)
    record_score(session, staff, person_id=ada.id, item="A1.code", points=80, clock=clock)
    record_score(session, staff, person_id=ada.id, item="A1.code", points=80, clock=clock)
    events.mark_read(session, ada.id, at=clock.now())
    record_score(session, staff, person_id=ada.id, item="A1.code", points=90, clock=clock)
    assert titles(session, ada) == ["New score for A1.code: 90 / 100"]
    assert events.unread_count(session, ada.id) == 1


def test_the_deadline_reminder_comes_24_hours_before_with_slack_days_left(
    session, staff, make_group
):
    group = make_group(4)
    done = make_group(4)
    clock = FixedClock(A1_DUE - timedelta(hours=25))
    assert remind_deadlines(session, clock=clock) == 0  # not yet
    submit(
        session,
        Actor.of(done.members[0]),
        assignment="A1",
        integrity={"external_code": "none", "sources": "none", "ai_assistance": "none"},
        clock=clock,
    )
    clock.advance(hours=2)
    assert remind_deadlines(session, clock=clock) == 4  # the group that has not handed in
    [told] = events.inbox(session, group.members[0].id)
    assert told.title.startswith("A1 is due")
    assert "you have 3 slack days left" in told.body
    assert titles(session, done.members[0]) == []
    clock.advance(minutes=30)
    assert remind_deadlines(session, clock=clock) == 0  # once per deadline


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server():
    """A real SMTP server on localhost (aiosmtpd), collecting what it is sent."""
    from aiosmtpd.controller import Controller

    received: list = []

    class Keep:
        async def handle_DATA(self, server, smtp_session, envelope):
            received.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
            return "250 OK"

    controller = Controller(Keep(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield Mailer("127.0.0.1", controller.port, site_url="https://sai.example"), received
    finally:
        controller.stop()


def test_email_each_or_a_daily_digest_through_smtp(session, staff, enroll, smtp_server):
    mailer, received = smtp_server
    ada, bob, cy = enroll(3)
    events.save_settings(session, ada.id, email="each", muted=[])
    events.save_settings(session, cy.id, email="off", muted=[])  # bob keeps the digest default
    clock = FixedClock(datetime(2026, 2, 5, 12, 0, tzinfo=BERKELEY))
    forum.post_announcement(session, staff, title="A2 released", body="Go", clock=clock)
    record_score(session, staff, person_id=bob.id, item="A1.code", points=85, clock=clock)

    assert deliver(session, mailer, clock=clock) == 1
    [(to, message)] = received
    assert to == [ada.email] and message["Subject"] == "[Scalable AI] Announcement: A2 released"
    assert "https://sai.example/qa/" in message.get_payload()
    assert deliver(session, mailer, clock=clock) == 0  # sent once

    assert send_digests(session, mailer, clock=clock) >= 1  # the seed's staff have digests too
    digests = {to[0]: m for to, m in received[1:]}
    digest = digests[bob.email]
    assert digest["Subject"] == "[Scalable AI] Daily digest: 2 new"
    text = digest.get_payload()
    assert "Announcements:" in text and "Grades released:" in text and "A1.code" in text
    assert ada.email not in digests and cy.email not in digests  # "each" had theirs; "off"
    sent = len(received)
    assert send_digests(session, mailer, clock=clock) == 0  # once a day
    assert len(received) == sent


def test_the_digest_goes_once_a_day_at_seven_berkeley_time():
    at = datetime(2026, 2, 5, 7, 30, tzinfo=BERKELEY)
    assert digest_due(None, at)
    assert not digest_due(datetime(2026, 2, 5, 7, 5, tzinfo=BERKELEY), at)
    assert digest_due(datetime(2026, 2, 4, 20, 0, tzinfo=BERKELEY), at)
    assert not digest_due(datetime(2026, 2, 4, 20, 0, tzinfo=BERKELEY), at - timedelta(hours=1))


def test_the_other_group_is_asked_for_consent(session, clock, make_group):
    from scalable_ai.course.service import nodes

    mine, other = make_group(4), make_group(4)
    nodes.request_reservation(
        session,
        Actor.of(mine.members[0]),
        node_ids=[mine.node_id, other.node_id],
        starts_at=clock.now() + timedelta(hours=1),
        ends_at=clock.now() + timedelta(hours=3),
        purpose="2-node FSDP",
        clock=clock,
    )
    for member in other.members:
        assert titles(session, member)[0].startswith("Consent asked: ")
    assert titles(session, mine.members[1]) == []  # their own group consented with the request


def test_a_node_marked_down_tells_its_groups_and_refuses_new_reservations(
    session, staff, clock, make_group
):
    from scalable_ai.course.service import nodes
    from scalable_ai.errors import Conflict, Forbidden, UserError

    mine, other = make_group(4), make_group(4)
    with pytest.raises(Forbidden):
        nodes.set_node_down(
            session, Actor.of(mine.members[0]), other.node_id, down=True, reason="x", clock=clock
        )
    with pytest.raises(UserError):
        nodes.set_node_down(session, staff, other.node_id, down=True, reason=" ", clock=clock)
    nodes.set_node_down(session, staff, other.node_id, down=True, reason="ECC errors", clock=clock)
    assert titles(session, other.members[0])[0].endswith("is down: ECC errors")
    assert titles(session, mine.members[0]) == []
    with pytest.raises(Conflict) as refused:
        nodes.request_reservation(
            session,
            Actor.of(mine.members[0]),
            node_ids=[mine.node_id, other.node_id],
            starts_at=clock.now() + timedelta(hours=1),
            ends_at=clock.now() + timedelta(hours=3),
            clock=clock,
        )
    assert "is down (ECC errors)" in refused.value.message
    nodes.set_node_down(session, staff, other.node_id, down=False, clock=clock)
    assert titles(session, other.members[0])[0].endswith("is back up")
