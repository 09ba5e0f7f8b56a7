"""The running grade (issue 13): mid-semester, ungraded work is pending, never 0 and never
unsatisfactory; the gate reads on track / at risk / failing from graded work only; the
letter is final only once every component is graded."""

from __future__ import annotations

import pytest

from scalable_ai.course.policy.grading import AssignmentParts, StudentScores, compute_grade
from scalable_ai.course.policy.standing import Standing, Status, running_grade


def graded(*assignments: tuple[str, float], **others: float) -> StudentScores:
    """Every part of the named assignments at the given percentage, plus ``others``."""
    return StudentScores(
        assignments=tuple(
            AssignmentParts(key, value, value, value, value) for key, value in assignments
        ),
        **others,
    )


def test_on_march_5_two_good_assignments_read_on_track_not_failing():
    running = running_grade(graded(("A1", 90), ("A2", 80)))
    assert running.standing is Standing.ON_TRACK
    assert running.letter == "" and not running.complete
    assert running.gate("A3.core").status is Status.PENDING
    assert running.gate("project").status is Status.PENDING
    assert running.gate("scribing").so_far is None
    assert running.gate("A1.core").status is Status.SATISFACTORY
    # the end-of-term rule reads the same scores as failing: that is what students saw
    assert not compute_grade(graded(("A1", 90), ("A2", 80))).passed


def test_the_projection_is_the_weighted_mean_of_graded_work_only():
    running = running_grade(graded(("A1", 90), ("A2", 80), scribing=100.0))
    # assignments: 2 of 5 graded → 14 of 35 points; scribing 5 points
    assert running.graded_points == pytest.approx(19.0)
    assert running.projected == pytest.approx((14 * 85 + 5 * 100) / 19)
    assert running.earned == pytest.approx((14 * 85 + 5 * 100) / 100)
    assert running.best_possible == pytest.approx(100 - 14 * (100 - 85) / 100)
    assert running.projected_letter == "B+"  # 88.9


def test_a_graded_component_below_its_threshold_with_work_left_is_at_risk_and_named():
    running = running_grade(StudentScores(assignments=(AssignmentParts("A1", code=40),)))
    assert running.gate("A1.core").status is Status.AT_RISK
    assert running.gate("assignments").status is Status.AT_RISK
    assert running.standing is Standing.AT_RISK
    assert any(r.startswith("Assignments: 40.0 so far, below 60") for r in running.reasons)


def test_a_fully_graded_assignment_core_below_the_threshold_fails_the_class():
    running = running_grade(graded(("A1", 50), ("A2", 95)))
    assert running.gate("A1.core").status is Status.UNSATISFACTORY
    assert running.standing is Standing.FAILING
    assert any("A1 core" in r for r in running.reasons)


def test_failing_means_even_full_marks_on_what_is_left_cannot_reach_the_threshold():
    scores = StudentScores(project_technical_staff=0.0, project_technical_peer=0.0)
    running = running_grade(scores)  # technical is 40 of the project's 50 points
    assert running.gate("project").status is Status.FAILING
    assert "even full marks" in running.gate("project").why


def test_the_letter_is_final_once_every_component_is_graded_and_matches_the_final_rule():
    full = graded(
        *((f"A{i}", 95.0) for i in range(1, 6)),
        project_technical_staff=95.0,
        project_technical_peer=95.0,
        project_impact=95.0,
        scribing=95.0,
        participation=95.0,
    )
    running = running_grade(full)
    assert running.complete and running.letter == compute_grade(full).letter == "A"
    assert running.standing is Standing.ON_TRACK


def test_live_participation_below_the_threshold_is_at_risk_but_never_failing_or_final():
    full = graded(
        *((f"A{i}", 95.0) for i in range(1, 6)),
        project_technical_staff=95.0,
        project_technical_peer=95.0,
        project_impact=95.0,
        scribing=95.0,
        participation=10.0,
    )
    running = running_grade(full, provisional=("participation",))
    assert running.gate("participation").status is Status.AT_RISK
    assert running.standing is Standing.AT_RISK and not running.complete
    assert running.letter == ""


def test_a_missing_enhancement_counts_once_its_assignment_is_fully_graded():
    scores = StudentScores(assignments=(AssignmentParts("A1", 80, 80, 80),))
    running = running_grade(scores)
    assignments = running.gate("assignments")
    assert assignments.so_far == pytest.approx((5 * 80 + 2 * 0) / 7)
