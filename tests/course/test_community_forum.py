"""Syllabus: "All course questions must be posted on Ed ... We answer, announce, and archive on
Ed only"; infrastructure problems are posted "include timestamps, job IDs, logs, and a short
repro description". Private questions, anonymous posts, endorsed answers, announcements,
search and tickets per node (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from scalable_ai.course.community.forum_rules import ANONYMOUS
from scalable_ai.course.community.service import forum, qa_board
from scalable_ai.course.service import Actor
from scalable_ai.course.tables import Node
from scalable_ai.errors import Conflict, Forbidden, NotFound, UserError


def shown(session, actor, **search) -> list[int]:
    """The ids of the threads the Q&A board shows ``actor`` (its first page)."""
    return [t.id for t in qa_board.board(session, actor, **search).threads]


@pytest.fixture
def people(enroll):
    ada, bob = enroll(2)
    return Actor.of(ada), Actor.of(bob)


def test_a_private_question_is_seen_by_its_author_and_staff_only(session, staff, clock, people):
    ada, bob = people
    thread = forum.post_question(
        session,
        ada,
        category="A1",
        title="My grade?",
        body="Private please",
        private=True,
        clock=clock,
    )
    assert forum.get_thread(session, staff, thread.id) is thread
    assert forum.get_thread(session, ada, thread.id) is thread
    with pytest.raises(NotFound):
        forum.get_thread(session, bob, thread.id)
    assert thread.id not in shown(session, bob)
    with pytest.raises(NotFound):
        forum.answer(session, bob, thread.id, body="peek", clock=clock)


def test_an_anonymous_question_hides_the_author_from_classmates_not_staff(
    session, staff, clock, people
):
    ada, bob = people
    thread = forum.post_question(
        session,
        ada,
        category="lecture",
        title="Why RoPE?",
        body="Asking anonymously",
        anonymous=True,
        clock=clock,
    )
    assert forum.thread_view(bob, thread).author == ANONYMOUS
    assert "Student" in forum.thread_view(staff, thread).author


def test_staff_endorse_an_answer(session, staff, clock, people):
    ada, bob = people
    thread = forum.post_question(
        session, ada, category="A2", title="Loss spikes", body="At step 300", clock=clock
    )
    post = forum.answer(session, bob, thread.id, body="Lower the **LR**", clock=clock)
    with pytest.raises(Forbidden):
        forum.endorse(session, bob, post.id, clock=clock)
    forum.endorse(session, staff, post.id, clock=clock)
    view = forum.thread_view(ada, forum.get_thread(session, ada, thread.id))
    assert view.endorsed_answer and view.posts[0].endorsed
    assert "<strong>LR</strong>" in view.posts[0].body_html


def test_announcements_are_staff_only_and_newest_first(session, staff, clock, people):
    ada, _ = people
    with pytest.raises(Forbidden):
        forum.post_announcement(session, ada, title="Hi", body="all", clock=clock)
    forum.post_announcement(session, staff, title="A1 released", body="Go", clock=clock)
    clock.advance(minutes=1)
    forum.post_announcement(session, staff, title="Office hours moved", body="Room", clock=clock)
    titles = [t.title for t in forum.announcements(session, ada)]
    assert titles[:2] == ["Office hours moved", "A1 released"]


def test_search_finds_titles_bodies_and_answers_the_reader_may_see(session, staff, clock, people):
    ada, bob = people
    visible = forum.post_question(
        session, ada, category="A3", title="DPO beta", body="what value", clock=clock
    )
    forum.answer(session, staff, visible.id, body="Try 0.1 with NCCL_DEBUG", clock=clock)
    forum.post_question(
        session, ada, category="A3", title="nccl private", body="secret", private=True, clock=clock
    )
    assert shown(session, bob, query="nccl") == [visible.id]
    assert len(shown(session, staff, query="NCCL")) == 2
    assert shown(session, bob, query="100%_") == []


def test_markdown_in_posts_cannot_inject_script(session, clock, people):
    ada, bob = people
    thread = forum.post_question(
        session,
        ada,
        category="project",
        title="xss",
        body="<script>alert(1)</script>[a](javascript:alert(1))",
        clock=clock,
    )
    html = forum.thread_view(bob, thread).body_html
    assert "<script>" not in html and 'href="javascript' not in html


def test_a_ticket_needs_the_node_time_job_ids_logs_and_repro(session, clock, people):
    ada, _ = people
    node = session.scalars(select(Node).order_by(Node.id)).first()
    with pytest.raises(UserError) as refused:
        forum.file_ticket(
            session,
            ada,
            title="NCCL hang",
            node_id=node.id,
            occurred_at=clock.now() - timedelta(hours=1),
            job_ids="4711",
            logs="",
            repro="torchrun ...",
            clock=clock,
        )
    assert refused.value.field == "logs"


def test_ticket_status_and_the_node_board(session, staff, clock, people):
    ada, bob = people
    node = session.scalars(select(Node).order_by(Node.id)).first()
    thread = forum.file_ticket(
        session,
        ada,
        title="GPU 3 ECC errors",
        node_id=node.id,
        occurred_at=clock.now() - timedelta(minutes=30),
        job_ids="slurm 881",
        logs="Xid 48",
        repro="nvidia-smi -q",
        clock=clock,
    )
    assert thread.ticket.status == "open"
    assert [t.id for t in forum.open_tickets_by_node(session, bob)[node.name]] == [thread.id]
    with pytest.raises(Forbidden):
        forum.set_ticket_status(session, ada, thread.id, "resolved", clock=clock)
    forum.set_ticket_status(session, staff, thread.id, "acknowledged", clock=clock)
    forum.set_ticket_status(session, staff, thread.id, "resolved", clock=clock)
    assert forum.open_tickets_by_node(session, staff)[node.name] == []
    with pytest.raises(Conflict):
        forum.set_ticket_status(session, staff, thread.id, "acknowledged", clock=clock)


def test_infrastructure_questions_must_be_tickets(session, clock, people):
    ada, _ = people
    with pytest.raises(UserError) as refused:
        forum.post_question(
            session, ada, category="infrastructure", title="x", body="y", clock=clock
        )
    assert refused.value.field == "category"


def test_a_lecture_lists_the_questions_asked_about_it(session, clock, people):
    from scalable_ai.course.service.course import lecture_by_key

    ada, bob = people
    asked = forum.post_question(
        session,
        ada,
        category="lecture",
        title="RoPE base",
        body="why 10000?",
        lecture_key="L3",
        clock=clock,
    )
    forum.post_question(
        session,
        ada,
        category="lecture",
        title="mine",
        body="private",
        lecture_key="L3",
        private=True,
        clock=clock,
    )
    lecture = lecture_by_key(session, "L3")
    assert [t.id for t in forum.threads_about_lecture(session, bob, lecture.id)] == [asked.id]
