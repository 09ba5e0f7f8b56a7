"""Syllabus: "Each student is expected to scribe 2 lectures ... If you use external sources or
AI tools, you must cite them clearly"; participation includes "providing constructive
comments on lecture notes and slides" and attendance (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from scalable_ai.course.clock import BERKELEY
from scalable_ai.course.community.service import forum, notes, participation
from scalable_ai.course.service import Actor
from scalable_ai.course.service.course import lecture_by_key
from scalable_ai.course.service.grades import scores_of
from scalable_ai.course.tables import ScribeAssignment
from scalable_ai.errors import Conflict, Forbidden, NotFound, UserError

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def scribe(session, clock, enroll):
    """A student assigned to scribe L5 (as the core scribing assignment would)."""
    ada, bob = enroll(2)
    lecture = lecture_by_key(session, "L5")
    session.add(ScribeAssignment(lecture_id=lecture.id, person_id=ada.id, assigned_at=clock.now()))
    session.flush()
    return Actor.of(ada), Actor.of(bob)


def test_a_scribe_submits_markdown_with_a_sources_and_ai_statement(session, clock, scribe):
    ada, _ = scribe
    with pytest.raises(UserError) as refused:
        notes.submit_scribe_note(
            session, ada, "L5", format="markdown", body="# L5", sources_statement=" ", clock=clock
        )
    assert refused.value.field == "sources_statement"
    note = notes.submit_scribe_note(
        session,
        ada,
        "L5",
        format="markdown",
        body="# L5 notes",
        sources_statement="Drafted with an LLM, edited by me",
        clock=clock,
    )
    assert note.version == 1 and note.status == "pending"


def test_a_scribe_may_submit_a_pdf_but_not_another_file(session, clock, scribe):
    ada, _ = scribe
    note = notes.submit_scribe_note(
        session,
        ada,
        "L5",
        format="pdf",
        pdf=PDF,
        filename="l5.pdf",
        sources_statement="none",
        clock=clock,
    )
    assert note.pdf == PDF
    with pytest.raises(UserError) as refused:
        notes.submit_scribe_note(
            session, ada, "L5", format="pdf", pdf=b"<html>", sources_statement="none", clock=clock
        )
    assert refused.value.field == "pdf"


def test_only_an_assigned_scribe_submits_notes_for_a_lecture(session, clock, scribe):
    _, bob = scribe
    with pytest.raises(Forbidden):
        notes.submit_scribe_note(
            session, bob, "L5", format="markdown", body="x", sources_statement="none", clock=clock
        )


def test_staff_return_notes_with_feedback_only_the_scribe_can_read(session, staff, clock, scribe):
    ada, bob = scribe
    note = notes.submit_scribe_note(
        session, ada, "L5", format="markdown", body="draft", sources_statement="none", clock=clock
    )
    notes.review_scribe_note(
        session, staff, note.id, decision="returned", feedback="Derive eq. 2", clock=clock
    )
    assert notes.scribe_notes_of(session, ada, ada.person_id)[0].feedback == "Derive eq. 2"
    with pytest.raises(Forbidden):
        notes.scribe_notes_of(session, bob, ada.person_id)
    with pytest.raises(NotFound):
        notes.show_scribe_note(session, bob, note.id)


def test_accepted_notes_make_the_scribing_satisfactory_and_are_shown_to_all(
    session, staff, clock, scribe
):
    ada, bob = scribe
    first = notes.submit_scribe_note(
        session, ada, "L5", format="markdown", body="draft", sources_statement="none", clock=clock
    )
    notes.review_scribe_note(
        session, staff, first.id, decision="returned", feedback="more", clock=clock
    )
    second = notes.submit_scribe_note(
        session, ada, "L5", format="markdown", body="final", sources_statement="none", clock=clock
    )
    assert second.version == 2
    notes.review_scribe_note(session, staff, second.id, decision="accepted", clock=clock)
    assignment = notes.scribe_assignment(session, second.lecture_id, ada.person_id)
    assert assignment.satisfactory is True and assignment.submitted_at is not None
    assert notes.show_scribe_note(session, bob, second.id).body == "final"
    with pytest.raises(Conflict):
        notes.submit_scribe_note(
            session,
            ada,
            "L5",
            format="markdown",
            body="again",
            sources_statement="none",
            clock=clock,
        )


def test_students_comment_on_lecture_notes(session, clock, scribe):
    ada, _ = scribe
    notes.comment_on_notes(
        session, ada, "L3", body="Slide 12: the MoE capacity factor is 1.25", clock=clock
    )
    assert [c.body[:5] for c in notes.note_comments(session, ada, "L3")] == ["Slide"]


# --- attendance and participation -----------------------------------------------------------


def test_a_student_checks_in_with_the_lectures_code(session, staff, clock, scribe):
    ada, bob = scribe
    window = participation.open_check_in(
        session, staff, "L6", clock=clock, opens_at=clock.now() - timedelta(minutes=5)
    )
    with pytest.raises(UserError):
        participation.check_in(session, ada, "L6", code="NOPE00", clock=clock)
    participation.check_in(session, ada, "L6", code=window.code.lower(), clock=clock)
    assert [a.source for a in participation.attendance_of(session, staff, "L6")] == ["check-in"]
    with pytest.raises(Forbidden):
        participation.check_in_code(session, bob, "L6")


def test_check_in_closes_half_an_hour_after_the_lecture_ends(session, staff, clock, scribe):
    """Lectures meet 9:30–11:00 (the spec's lectures_meet); check-in opened before the end
    closes at 11:30 Berkeley time on the lecture's day."""
    lecture_day = clock.now().astimezone(BERKELEY).date()  # Feb 5: L6
    opens = datetime.combine(lecture_day, time(9, 0), tzinfo=BERKELEY)
    window = participation.open_check_in(session, staff, "L6", clock=clock, opens_at=opens)
    assert window.closes_at == datetime.combine(lecture_day, time(11, 30), tzinfo=BERKELEY)


def test_check_in_is_refused_once_closed(session, staff, clock, scribe):
    ada, _ = scribe
    window = participation.open_check_in(session, staff, "L6", clock=clock)
    clock.advance(hours=3)
    with pytest.raises(Conflict):
        participation.check_in(session, ada, "L6", code=window.code, clock=clock)


def test_participation_summary_counts_attendance_and_contributions(session, staff, clock, scribe):
    ada, bob = scribe
    participation.mark_attendance(session, staff, "L1", [ada.person_id], clock=clock)
    participation.mark_attendance(session, staff, "L2", [ada.person_id], clock=clock)
    thread = forum.post_question(session, ada, category="A1", title="q", body="q", clock=clock)
    forum.answer(session, bob, thread.id, body="a", clock=clock)
    notes.comment_on_notes(session, ada, "L1", body="typo on slide 3", clock=clock)
    participation.credit(session, staff, ada.person_id, kind="discussion", clock=clock)
    mine = participation.summary(session, ada, ada.person_id, clock=clock)
    # Feb 5 noon: L1–L6 have been held.
    assert (mine.lectures_held, mine.lectures_attended) == (6, 2)
    assert (mine.questions, mine.answers, mine.note_comments, mine.staff_credits) == (1, 0, 1, 1)
    assert 0 < mine.score < 100 and "attended 2 of 6" in mine.note
    with pytest.raises(Forbidden):
        participation.summary(session, bob, ada.person_id, clock=clock)
    table = dict((p.id, s) for p, s in participation.class_summary(session, staff, clock=clock))
    assert table[bob.person_id].answers == 1


def test_participation_scores_go_into_the_grade_book(session, staff, clock, scribe):
    ada, _ = scribe
    participation.mark_attendance(session, staff, "L1", [ada.person_id], clock=clock)
    written = participation.record_in_grade_book(session, staff, clock=clock)
    assert written >= 2
    mine = {s.item: s for s in scores_of(session, staff, ada.person_id)}
    expected = participation.summary(session, staff, ada.person_id, clock=clock)
    assert mine["participation"].points == expected.score
    assert "attended 1 of 6" in mine["participation"].comment


def test_participation_flows_into_the_running_grade_without_the_button(
    session, staff, clock, scribe
):
    """Issue 13: the grade showed 0.0 while /participation showed the ledger's score until
    staff pressed "Write these scores to the grade book"."""
    from scalable_ai.course.service.grades import grade_of

    ada, _ = scribe
    participation.mark_attendance(session, staff, "L1", [ada.person_id], clock=clock)
    live = participation.summary(session, staff, ada.person_id, clock=clock).score
    running = grade_of(session, staff, ada.person_id, clock=clock).running
    gate = running.gate("participation")
    assert gate.so_far == live and gate.provisional
    assert any("read live from the participation ledger" in n for n in running.notes)
    participation.record_in_grade_book(session, staff, clock=clock)
    gate = grade_of(session, staff, ada.person_id, clock=clock).running.gate("participation")
    assert gate.so_far == pytest.approx(live) and not gate.provisional
