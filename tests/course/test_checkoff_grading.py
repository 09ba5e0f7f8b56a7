"""The oral checkoff graded with a short rubric (issue 16): staff tick a criterion's items at
the slot, the checkoff part of every member is recomputed into the grade book, and the
hand-ins page shows the parts a kit's rubric computes read-only (one writer per score). The
criteria are A1's own ``checkoff.yaml``."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from scalable_ai.course.service import Actor
from scalable_ai.course.service import checkoff_grading as checkoff
from scalable_ai.course.tables import AuditEntry, Score
from scalable_ai.errors import Forbidden, UserError


def _checkoff(session, group) -> set[tuple[float, float]]:
    ids = [p.id for p in group.members]
    rows = session.scalars(
        select(Score).where(Score.item == "A1.checkoff", Score.person_id.in_(ids))
    ).all()
    assert len(rows) == len(ids)
    return {(r.points, r.max_points) for r in rows}


def test_ticked_items_make_the_checkoff_part_of_every_member(session, make_group, staff, clock):
    group = make_group(4)
    assert checkoff.checkoff_rubric("A1").points == 10
    checkoff.grade_checkoff(
        session, staff, assignment="A1", group_id=group.id, criterion_id="walkthrough",
        applied_items=["all-members", "correct"], clock=clock,
    )  # fmt: skip
    checkoff.grade_checkoff(
        session, staff, assignment="A1", group_id=group.id, criterion_id="questions",
        applied_items=["first"], adjustment=0.5, comment="ring drawn right", clock=clock,
    )  # fmt: skip
    assert _checkoff(session, group) == {(4 + 2.5, 10.0)}
    # Graded again at the slot: the criterion's row is replaced, not added.
    checkoff.grade_checkoff(
        session, staff, assignment="A1", group_id=group.id, criterion_id="questions",
        applied_items=["first", "second"], clock=clock,
    )  # fmt: skip
    assert _checkoff(session, group) == {(8.0, 10.0)}
    assert len(checkoff.group_grades(session, "A1", group.id)) == 2
    audited = select(AuditEntry).where(AuditEntry.action == "checkoff.grade")
    assert len(session.scalars(audited).all()) == 3


def test_only_staff_grade_and_only_the_rubrics_items(session, make_group, staff, clock):
    group = make_group(4)
    with pytest.raises(Forbidden):
        checkoff.grade_checkoff(
            session, Actor.of(group.members[0]), assignment="A1", group_id=group.id,
            criterion_id="walkthrough", applied_items=["correct"], clock=clock,
        )  # fmt: skip
    with pytest.raises(UserError, match="no rubric item 'bonus'"):
        checkoff.grade_checkoff(
            session, staff, assignment="A1", group_id=group.id, criterion_id="walkthrough",
            applied_items=["bonus"], clock=clock,
        )  # fmt: skip
    with pytest.raises(UserError, match="no question 'dance'"):
        checkoff.grade_checkoff(
            session, staff, assignment="A1", group_id=group.id, criterion_id="dance",
            applied_items=[], clock=clock,
        )  # fmt: skip
    assert checkoff.has_checkoff_rubric("A5")
    assert not checkoff.has_checkoff_rubric("A9")  # no kit: the hand-ins page grades it
