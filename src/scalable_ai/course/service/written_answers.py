"""Written answers graded with a shared rubric, the way Gradescope grades them.

Students answer an assignment's conceptual questions (the kit's ``questions.yaml``) in
Markdown, one answer per question for the group; staff apply rubric items (and an optional
adjustment and comment) to each answer; the assignment's written part (``A4.written``) is
recomputed for every member after each change and recorded in the grade book with an audit
entry. Changing an item's points re-scores every group whose answers use it. Grading
progress per question is the count of graded answers against handed-in ones.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock
from scalable_ai.course.service.actors import (
    Actor,
    acting_person,
    current_group_id,
    get_group,
    require_staff,
)
from scalable_ai.course.service.grades import record_score
from scalable_ai.course.tables import RubricItemPoints, WrittenAnswer
from scalable_ai.errors import Forbidden, NotFound, UserError
from scalable_ai.kits.rubric import Question, QuestionSet, load_questions

MAX_ANSWER_CHARS = 20_000


@cache
def _questions_at(path: Path, mtime: float) -> QuestionSet:
    return load_questions(path)


def questions_of(assignment_key: str) -> QuestionSet:
    """The kit's questions for ``assignment_key`` (``assignments/<key>/questions.yaml``)."""
    from scalable_ai.kits.kit import kits_root

    path = kits_root() / assignment_key / "questions.yaml"
    if not path.is_file():
        raise NotFound(f"{assignment_key} has no conceptual questions", field="assignment")
    return _questions_at(path, path.stat().st_mtime)


def _question(assignment_key: str, question_id: str) -> Question:
    return questions_of(assignment_key).question(question_id)


def answer_question(
    session: Session,
    actor: Actor,
    *,
    assignment: str,
    question_id: str,
    text: str,
    clock: Clock,
    pdf_link: str | None = None,
) -> WrittenAnswer:
    """Store (or replace) the caller's group's answer to one question: Markdown, a PDF
    (``pdf_link``, an ``/uploads/`` link), or both. Saving again without a PDF keeps the one
    handed in before."""
    _question(assignment, question_id)
    text = text.strip()
    if len(text) > MAX_ANSWER_CHARS:
        raise UserError(f"answers are at most {MAX_ANSWER_CHARS} characters", field="text")
    me = acting_person(session, actor)
    group_id = current_group_id(session, me.id)
    if group_id is None:
        raise UserError("answers are group work: join a group first", field="group")
    row = session.scalar(
        select(WrittenAnswer).where(
            WrittenAnswer.assignment_key == assignment,
            WrittenAnswer.group_id == group_id,
            WrittenAnswer.question_id == question_id,
        )
    )
    if not text and not pdf_link and not (row is not None and row.pdf_link):
        raise UserError("the answer is empty: write it, or hand in a PDF", field="text")
    if row is None:
        row = WrittenAnswer(
            assignment_key=assignment, group_id=group_id, question_id=question_id, text=text,
            submitted_at=clock.now(), submitted_by_id=me.id, applied_items=[], adjustment=0.0,
            comment="", pdf_link=pdf_link,
        )  # fmt: skip
        session.add(row)
    else:
        row.text, row.submitted_at, row.submitted_by_id = text, clock.now(), me.id
        row.pdf_link = pdf_link or row.pdf_link
    session.flush()
    return row


def item_points(session: Session, assignment_key: str) -> dict[tuple[str, str], float]:
    """Staff's changes to items' points: (question, item) -> points."""
    rows = session.scalars(
        select(RubricItemPoints).where(RubricItemPoints.assignment_key == assignment_key)
    ).all()
    return {(r.question_id, r.item_id): r.points for r in rows}


def answer_score(session: Session, answer: WrittenAnswer) -> float:
    question = _question(answer.assignment_key, answer.question_id)
    changed = {
        item: points
        for (qid, item), points in item_points(session, answer.assignment_key).items()
        if qid == answer.question_id
    }
    return question.score(answer.applied_items, answer.adjustment, changed)


def _rescore_group(
    session: Session, actor: Actor, assignment: str, group_id: int, clock: Clock
) -> float:
    """Record the group's written part for every member: graded answers' scores summed."""
    answers = session.scalars(
        select(WrittenAnswer).where(
            WrittenAnswer.assignment_key == assignment, WrittenAnswer.group_id == group_id
        )
    ).all()
    total = sum(answer_score(session, a) for a in answers if a.graded_at is not None)
    maximum = questions_of(assignment).points
    for person in get_group(session, group_id).members:
        if person.role == "student":
            record_score(
                session, actor, person_id=person.id, item=f"{assignment}.written",
                points=total, max_points=maximum, comment="rubric grading of the written answers",
                clock=clock,
            )  # fmt: skip
    return total


def grade_answer(
    session: Session,
    actor: Actor,
    answer_id: int,
    *,
    applied_items: Iterable[str],
    adjustment: float = 0.0,
    comment: str = "",
    clock: Clock,
) -> WrittenAnswer:
    """Staff apply rubric items to one answer; the group's written part is recomputed."""
    require_staff(actor, "grade written answers")
    answer = session.get(WrittenAnswer, answer_id)
    if answer is None:
        raise NotFound(f"no written answer {answer_id}", field="answer_id")
    question = _question(answer.assignment_key, answer.question_id)
    applied = sorted(set(applied_items))
    for item_id in applied:
        question.item(item_id)  # an unknown item is a clear error
    before = audit.snapshot(answer)
    answer.applied_items, answer.adjustment, answer.comment = applied, adjustment, comment
    answer.graded_at, answer.graded_by_id = clock.now(), actor.person_id
    audit.record(session, actor, "written.grade", answer, before=before, at=clock.now())
    _rescore_group(session, actor, answer.assignment_key, answer.group_id, clock)
    return answer


def change_item_points(
    session: Session,
    actor: Actor,
    *,
    assignment: str,
    question_id: str,
    item_id: str,
    points: float,
    clock: Clock,
) -> list[int]:
    """Staff change one rubric item's points; every group whose graded answers apply it is
    re-scored (returns those groups' ids)."""
    require_staff(actor, "change a rubric")
    _question(assignment, question_id).item(item_id)
    row = session.scalar(
        select(RubricItemPoints).where(
            RubricItemPoints.assignment_key == assignment,
            RubricItemPoints.question_id == question_id,
            RubricItemPoints.item_id == item_id,
        )
    )
    before = audit.snapshot(row)
    if row is None:
        row = RubricItemPoints(
            assignment_key=assignment, question_id=question_id, item_id=item_id, points=points
        )
        session.add(row)
    else:
        row.points = points
    audit.record(session, actor, "rubric.points", row, before=before, at=clock.now())
    answers = session.scalars(
        select(WrittenAnswer).where(
            WrittenAnswer.assignment_key == assignment,
            WrittenAnswer.question_id == question_id,
            WrittenAnswer.graded_at.is_not(None),
        )
    ).all()
    groups = sorted({a.group_id for a in answers if item_id in a.applied_items})
    for group_id in groups:
        _rescore_group(session, actor, assignment, group_id, clock)
    return groups


def grading_progress(session: Session, actor: Actor, assignment: str) -> dict[str, tuple[int, int]]:
    """Per question: (graded answers, handed-in answers)."""
    require_staff(actor, "see grading progress")
    progress = {q.id: (0, 0) for q in questions_of(assignment).questions}
    answers = session.scalars(
        select(WrittenAnswer).where(WrittenAnswer.assignment_key == assignment)
    ).all()
    for answer in answers:
        graded, total = progress.get(answer.question_id, (0, 0))
        progress[answer.question_id] = (graded + (answer.graded_at is not None), total + 1)
    return progress


def list_answers(
    session: Session, actor: Actor, *, assignment: str | None = None, group_id: int | None = None
) -> list[tuple[WrittenAnswer, float | None]]:
    """Answers with their scores (None until graded): staff see all, a student only their
    group's (asking for another group's is refused)."""
    if not actor.is_staff:
        mine = current_group_id(session, actor.person_id) if actor.person_id else None
        if group_id is not None and group_id != mine:
            raise Forbidden("only the group's members and staff may see its answers")
        if mine is None:
            return []
        group_id = mine
    query = select(WrittenAnswer).order_by(WrittenAnswer.id)
    if assignment is not None:
        query = query.where(WrittenAnswer.assignment_key == assignment)
    if group_id is not None:
        query = query.where(WrittenAnswer.group_id == group_id)
    return [
        (a, answer_score(session, a) if a.graded_at is not None else None)
        for a in session.scalars(query).all()
    ]
