"""Q&A at Ed's level (issue 13), on SQLite and PostgreSQL: edit and delete one's own posts
with the history kept for staff, resolved / unanswered / unread / following filters, pages,
follows, unread markers and full-text search (FTS5 on SQLite, tsvector on PostgreSQL)."""

from __future__ import annotations

import pytest

from scalable_ai.course.community.service import forum, qa_board
from scalable_ai.course.service import Actor
from scalable_ai.errors import Forbidden, NotFound


@pytest.fixture
def people(enroll):
    ada, bob = enroll(2)
    return Actor.of(ada), Actor.of(bob)


def ask(session, who, clock, title="Loss spikes", body="At step 300", **kw):
    return forum.post_question(
        session, who, category="A2", title=title, body=body, clock=clock, **kw
    )


def test_an_author_edits_their_own_question_and_staff_read_the_earlier_text(
    session, staff, clock, people
):
    ada, bob = people
    thread = ask(session, ada, clock, body="Loss is NaN at step 300")
    with pytest.raises(Forbidden):
        qa_board.edit_thread(session, bob, thread.id, title="x", body="y", clock=clock)
    clock.advance(minutes=5)
    qa_board.edit_thread(
        session, ada, thread.id, title="Loss spikes", body="Fixed: LR was 10x", clock=clock
    )
    view = forum.thread_view(bob, forum.get_thread(session, bob, thread.id))
    assert view.edited and "Fixed" in view.body_html
    with pytest.raises(Forbidden):
        qa_board.history(session, ada, thread.id)  # the history is for staff
    [earlier] = qa_board.history(session, staff, thread.id)
    assert earlier.action == "edit" and earlier.body == "Loss is NaN at step 300"
    assert earlier.replaced_by == "Student 01"


def test_a_deleted_answer_leaves_the_thread_but_not_the_staffs_view(session, staff, clock, people):
    ada, bob = people
    thread = ask(session, ada, clock)
    post = forum.answer(session, bob, thread.id, body="Lower the LR", clock=clock)
    with pytest.raises(Forbidden):
        qa_board.delete_post(session, ada, post.id, clock=clock)  # not hers
    qa_board.edit_post(session, bob, post.id, body="Lower the LR to 3e-4", clock=clock)
    qa_board.delete_post(session, bob, post.id, clock=clock)
    seen_by_ada = forum.thread_view(ada, forum.get_thread(session, ada, thread.id))
    assert seen_by_ada.posts == [] and seen_by_ada.answers == 0
    seen_by_staff = forum.thread_view(staff, forum.get_thread(session, staff, thread.id))
    assert [p.deleted for p in seen_by_staff.posts] == [True]
    assert [r.action for r in qa_board.history(session, staff, thread.id)] == ["edit", "delete"]
    # a deleted answer no longer counts as an answer, nor is found by search
    assert [v.id for v in qa_board.board(session, ada, show="unanswered").threads] == [thread.id]
    assert qa_board.board(session, ada, query="3e").threads == []


def test_a_deleted_thread_is_gone_for_students_and_kept_for_staff(session, staff, clock, people):
    ada, bob = people
    thread = ask(session, ada, clock)
    qa_board.delete_thread(session, ada, thread.id, clock=clock)
    with pytest.raises(NotFound):
        forum.get_thread(session, ada, thread.id)
    assert qa_board.board(session, bob).threads == []
    assert forum.get_thread(session, staff, thread.id).deleted_at is not None


def test_the_asker_or_staff_resolve_a_question(session, staff, clock, people):
    ada, bob = people
    first, second = ask(session, ada, clock, title="one"), ask(session, ada, clock, title="two")
    with pytest.raises(Forbidden):
        qa_board.set_resolved(session, bob, first.id, resolved=True, clock=clock)
    qa_board.set_resolved(session, ada, first.id, resolved=True, clock=clock)
    qa_board.set_resolved(session, staff, second.id, resolved=True, clock=clock)
    qa_board.set_resolved(session, staff, second.id, resolved=False, clock=clock)
    assert [v.title for v in qa_board.board(session, bob, show="resolved").threads] == ["one"]
    assert [v.title for v in qa_board.board(session, bob, show="unresolved").threads] == ["two"]


def test_a_thread_is_unread_until_opened_after_its_newest_answer(session, clock, people):
    ada, bob = people
    thread = ask(session, ada, clock)
    assert not qa_board.board(session, ada).threads[0].unread  # one's own post is read
    assert qa_board.board(session, bob, show="unread").total == 1
    qa_board.opened(session, bob, forum.get_thread(session, bob, thread.id), clock=clock)
    assert qa_board.board(session, bob, show="unread").total == 0
    clock.advance(minutes=10)
    forum.answer(session, ada, thread.id, body="More detail: bf16", clock=clock)
    assert qa_board.board(session, bob, show="unread").threads[0].unread
    # opening it again clears it, and an unchanged thread needs no second write
    assert qa_board.opened(session, bob, forum.get_thread(session, bob, thread.id), clock=clock)
    assert not qa_board.opened(session, bob, forum.get_thread(session, bob, thread.id), clock=clock)


def test_posting_or_answering_follows_and_anyone_may_unfollow(session, staff, clock, people):
    ada, bob = people
    thread = ask(session, ada, clock)
    assert [v.id for v in qa_board.board(session, ada, show="following").threads] == [thread.id]
    assert qa_board.board(session, bob, show="following").total == 0
    forum.answer(session, bob, thread.id, body="Same here", clock=clock)
    assert qa_board.board(session, bob, show="following").threads[0].following
    qa_board.set_following(session, bob, thread.id, following=False, clock=clock)
    assert qa_board.board(session, bob, show="following").total == 0


def test_the_board_pages_newest_activity_first(session, clock, people):
    ada, bob = people
    threads = []
    for i in range(5):
        clock.advance(minutes=1)
        threads.append(ask(session, ada, clock, title=f"question {i}"))
    clock.advance(minutes=1)
    forum.answer(session, bob, threads[0].id, body="bump", clock=clock)  # newest activity
    first = qa_board.board(session, bob, per_page=2)
    assert (first.total, first.pages) == (5, 3)
    assert [v.title for v in first.threads] == ["question 0", "question 4"]
    last = qa_board.board(session, bob, per_page=2, page=3)
    assert [v.title for v in last.threads] == ["question 1"]
    assert qa_board.board(session, bob, per_page=2, page=99).page == 3


def test_full_text_search_stems_ranks_and_keeps_private_threads_private(
    session, staff, clock, people
):
    ada, bob = people
    about_muon = ask(session, ada, clock, title="Muon optimizer", body="Is Muon worth it?")
    in_answer = ask(session, ada, clock, title="Optimizers", body="Which one for A2?")
    forum.answer(session, staff, in_answer.id, body="Muon with Newton-Schulz", clock=clock)
    ask(session, ada, clock, title="muon secret", body="private", private=True)
    ask(session, ada, clock, title="Losses diverge", body="after warmup")
    hits = [v.id for v in qa_board.board(session, bob, query="muon").threads]
    assert hits == [about_muon.id, in_answer.id]  # twice in the first: ranked first
    assert len(qa_board.board(session, staff, query="Muon").threads) == 3
    # stemming: "loss" finds "Losses"; a prefix as typed; words that must all appear
    assert [v.title for v in qa_board.board(session, bob, query="loss").threads] == [
        "Losses diverge"
    ]
    assert qa_board.board(session, bob, query="optim").total == 2
    assert qa_board.board(session, bob, query="muon warmup").total == 0
    # what a student types is never query syntax
    for odd in ('"unbalanced', "muon OR", "NEAR(a b)", "a:*", "!", "-- ;"):
        qa_board.board(session, bob, query=odd)
