"""Syllabus, "Grading and Policies": the weights, the fail-any-component gate, letters only."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scalable_ai.course.policy.grading import (
    COMPONENT_WEIGHTS,
    COMPONENTS,
    AssignmentParts,
    GradeReport,
    StudentScores,
    assignment_core_score,
    compute_grade,
    letter_for,
    require_letter_grade,
    technical_score,
)
from scalable_ai.course.policy.settings import (
    AssignmentPartWeights,
    CourseSettings,
    LetterCutoff,
    SatisfactoryThresholds,
)
from scalable_ai.errors import UserError


def scores(value: float = 90.0, **changes) -> StudentScores:
    """A student with ``value`` everywhere, then ``changes``."""
    base = dict(
        assignments=tuple(
            AssignmentParts(f"A{i}", value, value, value, value) for i in range(1, 6)
        ),
        project_technical_staff=value,
        project_technical_peer=value,
        project_impact=value,
        scribing=value,
        participation=value,
    )
    base.update(changes)
    return StudentScores(**base)


def notes(report: GradeReport) -> list[str]:
    return [n.message for n in report.notes]


def test_weights_are_project_50_assignments_35_scribing_5_participation_10():
    assert {c.key: c.weight for c in COMPONENTS} == {
        "project": 50,
        "assignments": 35,
        "scribing": 5,
        "participation": 10,
    }
    assert sum(c.weight for c in COMPONENTS) == 100


def test_project_is_40_technical_plus_10_impact():
    assert COMPONENT_WEIGHTS["project.technical"] == 40
    assert COMPONENT_WEIGHTS["project.impact"] == 10


def test_assignments_are_25_core_plus_10_enhancements():
    assert COMPONENT_WEIGHTS["assignments.core"] == 25
    assert COMPONENT_WEIGHTS["assignments.enhancements"] == 10


def test_weighted_total_follows_the_table():
    report = compute_grade(scores(100, project_impact=0.0))
    assert report.total == pytest.approx(90.0)  # impact is 10 points
    assert report.component("project").score == pytest.approx(80.0)


@given(st.floats(0, 100), st.floats(0, 100), st.floats(0, 100), st.floats(0, 100))
def test_total_is_the_weighted_sum_of_the_parts(technical, impact, scribing, participation):
    report = compute_grade(
        scores(
            70.0,
            project_technical_staff=technical,
            project_technical_peer=technical,
            project_impact=impact,
            scribing=scribing,
            participation=participation,
        )
    )
    expected = (
        0.40 * technical
        + 0.10 * impact
        + 0.25 * 70
        + 0.10 * 70
        + 0.05 * scribing
        + 0.10 * participation
    )
    assert report.total == pytest.approx(expected, abs=1e-6)


def test_assignment_core_blends_code_written_and_checkoff_by_course_weights():
    parts = AssignmentParts("A1", code=100, written=50, checkoff=0)
    assert assignment_core_score(parts) == pytest.approx(0.5 * 100 + 0.3 * 50)
    even = AssignmentPartWeights(code=0.4, written=0.4, checkoff=0.2)
    assert assignment_core_score(parts, even) == pytest.approx(60.0)
    assert assignment_core_score(AssignmentParts("A1")) is None


def test_technical_quality_incorporates_peer_and_staff_feedback():
    assert technical_score(staff=90, peer=70, peer_weight=0.25) == pytest.approx(85.0)
    assert technical_score(staff=90, peer=None) == 90
    settings = CourseSettings(peer_review_weight=0.5)
    report = compute_grade(
        scores(80, project_technical_staff=100.0, project_technical_peer=60.0), settings
    )
    assert report.component("project.technical").score == pytest.approx(80.0)


def test_enhancements_score_into_their_own_component():
    report = compute_grade(scores(100, enhancements=0.0))
    assert report.component("assignments.enhancements").points == 0
    assert report.component("assignments.core").points == pytest.approx(25.0)
    assert report.total == pytest.approx(90.0)


def test_failing_scribing_fails_the_class_whatever_the_total():
    report = compute_grade(scores(100, scribing=10.0))
    assert report.total > 95
    assert not report.passed and report.letter == "F"
    assert not report.component("scribing").satisfactory
    assert any("scribing unsatisfactory" in n and "whatever the total" in n for n in notes(report))


@pytest.mark.parametrize("component", ["project", "assignments", "participation"])
def test_failing_any_one_component_fails_the_class(component):
    changes = {
        "project": dict(project_technical_staff=20.0, project_technical_peer=20.0),
        "assignments": dict(
            enhancements=0.0,
            assignments=tuple(AssignmentParts(f"A{i}", 61, 61, 61) for i in range(1, 6)),
        ),
        "participation": dict(participation=0.0),
    }[component]
    report = compute_grade(
        scores(95, **changes), CourseSettings(satisfactory=SatisfactoryThresholds(assignments=60))
    )
    assert not report.component(component).satisfactory
    assert report.letter == "F"


def test_each_of_the_five_assignments_must_be_satisfactory():
    weak_a3 = tuple(
        AssignmentParts(f"A{i}", *(100, 100, 100) if i != 3 else (30, 30, 30)) for i in range(1, 6)
    )
    report = compute_grade(scores(100, assignments=weak_a3))
    assert report.component("assignments").satisfactory  # the average is fine
    assert not report.assignment("A3").satisfactory
    assert report.letter == "F"
    assert any(n.startswith("A3 core unsatisfactory") for n in notes(report))


def test_a_missing_assignment_counts_as_zero_and_says_so():
    report = compute_grade(scores(100, assignments=scores(100).assignments[:4]))
    assert report.assignment("A5").core is None
    assert "A5 core: no score yet (counts as 0)" in notes(report)
    assert report.letter == "F"


def test_letter_grade_only_no_pass_no_pass():
    assert require_letter_grade("letter") == "letter"
    for basis in ("P/NP", "S/U", "pass/no pass"):
        with pytest.raises(UserError, match="letter grade only") as info:
            require_letter_grade(basis)
        assert info.value.field == "grading_basis"
    with pytest.raises(UserError, match="letter grade only"):
        CourseSettings(letter_cutoffs=(LetterCutoff("P", 60), LetterCutoff("NP", 0)))


def test_letter_cutoffs_are_course_settings():
    assert letter_for(93.0) == "A" and letter_for(92.99) == "A-" and letter_for(10) == "F"
    pass_fail_free = CourseSettings(
        letter_cutoffs=(LetterCutoff("A", 80), LetterCutoff("B", 50), LetterCutoff("F", 0))
    )
    assert compute_grade(scores(85), pass_fail_free).letter == "A"


def test_satisfactory_thresholds_are_course_settings():
    strict = CourseSettings(satisfactory=SatisfactoryThresholds(scribing=95))
    assert compute_grade(scores(90), strict).letter == "F"
    assert compute_grade(scores(90)).letter == "A-"


def test_a_passing_report_explains_its_letter():
    report = compute_grade(scores(90), extra_notes=["slack day 1 of 3 used on A2"])
    assert report.passed and report.letter == "A-"
    assert notes(report) == ["slack day 1 of 3 used on A2", "total 90.0 earns A-"]


def test_a_score_outside_0_to_100_is_refused_naming_the_field():
    with pytest.raises(UserError) as info:
        compute_grade(scores(90, scribing=120.0))
    assert info.value.field == "scribing"


def test_grade_rules_compose_like_values():
    def curve(report, settings):
        return report.noted("curve", "curved by 5 points", total=min(100.0, report.total + 5))

    from scalable_ai.course.policy.grading import DEFAULT_RULES

    report = compute_grade(scores(86), rules=(curve, *DEFAULT_RULES))
    assert report.letter == "A-" and "curved by 5 points" in notes(report)


@given(
    st.sampled_from(
        ["project_technical_staff", "project_impact", "scribing", "participation", "enhancements"]
    ),
    st.floats(0, 100),
    st.floats(0, 100),
)
def test_raising_a_score_never_lowers_the_total_or_the_letter(field, low, high):
    low, high = sorted((low, high))
    worse = compute_grade(scores(80, **{field: low}))
    better = compute_grade(scores(80, **{field: high}))
    assert better.total >= worse.total
    letters = [c.letter for c in CourseSettings().letter_cutoffs]
    assert letters.index(better.letter) <= letters.index(worse.letter)
