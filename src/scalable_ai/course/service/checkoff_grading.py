"""The oral checkoff graded with a short rubric, filled in by staff at the checkoff slot.

Syllabus, "How assignments are graded": code grading, a written component and an oral
checkoff. The kit's ``checkoff.yaml`` lists the checkoff's criteria, each with points and
Gradescope-style rubric items (the same format and scoring as ``questions.yaml``,
``kits/rubric.py``). Staff tick the items that applied for a group, with an adjustment and
a comment per criterion; the group's checkoff part (``A1.checkoff``) is recomputed for every
student member into the grade book with an audit entry, as the written part is from the
written answers. Only the rubric writes that part when the kit has a checkoff rubric (the
hand-ins page shows it read-only).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock
from scalable_ai.course.service.actors import Actor, get_group, require_staff
from scalable_ai.course.service.grades import record_score
from scalable_ai.course.tables import CheckoffGrade
from scalable_ai.errors import NotFound
from scalable_ai.kits.rubric import QuestionSet, load_questions

CHECKOFF_FILE = "checkoff.yaml"


@cache
def _rubric_at(path: Path, mtime: float) -> QuestionSet:
    return load_questions(path)


def checkoff_path(assignment_key: str) -> Path:
    from scalable_ai.kits.kit import kits_root

    return kits_root() / assignment_key / CHECKOFF_FILE


def has_checkoff_rubric(assignment_key: str) -> bool:
    return checkoff_path(assignment_key).is_file()


def checkoff_rubric(assignment_key: str) -> QuestionSet:
    """The kit's checkoff criteria for ``assignment_key`` (``checkoff.yaml``)."""
    path = checkoff_path(assignment_key)
    if not path.is_file():
        raise NotFound(f"{assignment_key} has no checkoff rubric", field="assignment")
    return _rubric_at(path, path.stat().st_mtime)


def group_grades(session: Session, assignment_key: str, group_id: int) -> dict[str, CheckoffGrade]:
    """Criterion id -> the group's grade for it (graded criteria only)."""
    rows = session.scalars(
        select(CheckoffGrade).where(
            CheckoffGrade.assignment_key == assignment_key, CheckoffGrade.group_id == group_id
        )
    ).all()
    return {row.criterion_id: row for row in rows}


def group_score(session: Session, assignment_key: str, group_id: int) -> float | None:
    """The checkoff points of a group (None until some criterion is graded)."""
    rubric = checkoff_rubric(assignment_key)
    grades = group_grades(session, assignment_key, group_id)
    if not grades:
        return None
    return sum(
        rubric.question(cid).score(g.applied_items, g.adjustment) for cid, g in grades.items()
    )


def grade_checkoff(
    session: Session,
    actor: Actor,
    *,
    assignment: str,
    group_id: int,
    criterion_id: str,
    applied_items: Iterable[str],
    adjustment: float = 0.0,
    comment: str = "",
    clock: Clock,
) -> CheckoffGrade:
    """Staff grade one criterion of a group's checkoff; the group's checkoff part is
    recomputed for every student member."""
    require_staff(actor, "grade a checkoff")
    criterion = checkoff_rubric(assignment).question(criterion_id)
    applied = sorted(set(applied_items))
    for item_id in applied:
        criterion.item(item_id)  # an unknown item is a clear error
    group = get_group(session, group_id)
    row = group_grades(session, assignment, group_id).get(criterion_id)
    before = audit.snapshot(row)
    if row is None:
        row = CheckoffGrade(
            assignment_key=assignment, group_id=group_id, criterion_id=criterion_id,
            applied_items=applied, adjustment=adjustment, comment=comment,
            graded_at=clock.now(), graded_by_id=actor.person_id,
        )  # fmt: skip
        session.add(row)
    else:
        row.applied_items, row.adjustment, row.comment = applied, adjustment, comment
        row.graded_at, row.graded_by_id = clock.now(), actor.person_id
    session.flush()
    audit.record(session, actor, "checkoff.grade", row, before=before, at=clock.now())
    total = group_score(session, assignment, group_id) or 0.0
    maximum = checkoff_rubric(assignment).points
    for person in group.members:
        if person.role == "student":
            record_score(
                session, actor, person_id=person.id, item=f"{assignment}.checkoff",
                points=total, max_points=maximum, comment="checkoff rubric",
                clock=clock,
            )  # fmt: skip
    return row
