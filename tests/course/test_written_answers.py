"""Written answers graded with a shared rubric (issue 16): rubric items with points, the
written part recomputed into the grade book, changing an item's points re-scores every
answer that uses it, and grading progress per question. The questions are A4's own."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from scalable_ai.course.service import Actor
from scalable_ai.course.service import written_answers as written
from scalable_ai.course.tables import AuditEntry, Score
from scalable_ai.errors import Forbidden, UserError

EXACT = "P(accept x) = min(q, p); P(reject) = sum max(p - q, 0); together p(x)."


def _answer(session, group, question_id, clock, text=EXACT):
    return written.answer_question(
        session, Actor.of(group.members[0]), assignment="A4", question_id=question_id,
        text=text, clock=clock,
    )  # fmt: skip


def _written(session, group) -> set[tuple[float, float]]:
    ids = [p.id for p in group.members]
    rows = session.scalars(
        select(Score).where(Score.item == "A4.written", Score.person_id.in_(ids))
    ).all()
    assert len(rows) == len(ids)
    return {(r.points, r.max_points) for r in rows}


def test_a_group_answers_once_per_question(session, make_group, clock):
    group = make_group(4)
    first = _answer(session, group, "3.1", clock, "draft")
    second = written.answer_question(
        session, Actor.of(group.members[1]), assignment="A4", question_id="3.1", text=EXACT,
        clock=clock,
    )  # fmt: skip
    assert first.id == second.id and second.text == EXACT
    with pytest.raises(UserError, match=r"no question '9\.9'"):
        _answer(session, group, "9.9", clock)


def test_applied_items_make_the_written_part_of_every_member(session, make_group, staff, clock):
    group = make_group(4)
    exact, speedup = _answer(session, group, "3.1", clock), _answer(session, group, "3.2", clock)
    written.grade_answer(session, staff, exact.id, applied_items=["accept", "reject", "sum"], clock=clock)  # fmt: skip
    written.grade_answer(session, staff, speedup.id, applied_items=["formula"], adjustment=0.5, clock=clock)  # fmt: skip
    assert _written(session, group) == {(6 + 2.5, 40.0)}
    assert session.scalars(select(AuditEntry).where(AuditEntry.action == "written.grade")).all()


def test_changing_an_items_points_rescores_every_group_that_uses_it(
    session, make_group, staff, clock
):
    uses, other = make_group(4), make_group(4)
    a = _answer(session, uses, "3.1", clock)
    b = _answer(session, other, "3.1", clock)
    written.grade_answer(session, staff, a.id, applied_items=["accept", "reject"], clock=clock)
    written.grade_answer(session, staff, b.id, applied_items=["reject"], clock=clock)
    assert _written(session, uses) == {(4.0, 40.0)} and _written(session, other) == {(2.0, 40.0)}

    groups = written.change_item_points(
        session, staff, assignment="A4", question_id="3.1", item_id="accept", points=3,
        clock=clock,
    )  # fmt: skip
    assert groups == [uses.id]
    assert _written(session, uses) == {(5.0, 40.0)}
    assert _written(session, other) == {(2.0, 40.0)}
    # Never above the question's points, however items are re-weighted.
    written.change_item_points(
        session, staff, assignment="A4", question_id="3.1", item_id="reject", points=9, clock=clock
    )
    assert _written(session, uses) == {(6.0, 40.0)}


def test_grading_progress_per_question(session, make_group, staff, clock):
    groups = [make_group(4) for _ in range(3)]
    answers = [_answer(session, g, "2.2", clock) for g in groups]
    written.grade_answer(session, staff, answers[0].id, applied_items=["for"], clock=clock)
    progress = written.grading_progress(session, staff, "A4")
    assert progress["2.2"] == (1, 3)
    assert progress["1.1"] == (0, 0)


def test_only_staff_grade_and_only_known_items(session, make_group, staff, clock):
    group = make_group(4)
    answer = _answer(session, group, "3.1", clock)
    with pytest.raises(Forbidden):
        written.grade_answer(
            session, Actor.of(group.members[0]), answer.id, applied_items=["accept"], clock=clock
        )
    with pytest.raises(UserError, match="no rubric item 'bonus'"):
        written.grade_answer(session, staff, answer.id, applied_items=["bonus"], clock=clock)


def test_an_answer_is_markdown_a_pdf_or_both_never_nothing(session, make_group, clock):
    group = make_group(4)
    member = Actor.of(group.members[0])
    with pytest.raises(UserError, match="the answer is empty"):
        written.answer_question(
            session, member, assignment="A4", question_id="1.1", text="  ", clock=clock
        )
    pdf = "/uploads/" + "a" * 64 + "/answer.pdf"
    row = written.answer_question(
        session, member, assignment="A4", question_id="1.1", text="", pdf_link=pdf, clock=clock
    )
    assert row.pdf_link == pdf and row.text == ""
    again = written.answer_question(
        session, member, assignment="A4", question_id="1.1", text="and in words", clock=clock
    )
    assert again.id == row.id and again.pdf_link == pdf  # saving text keeps the PDF
