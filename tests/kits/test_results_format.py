"""Gradescope's results.json: what we write has only the fields and values they document."""

from __future__ import annotations

from scalable_ai.kits.results import GradedTest, GradingResult, validate_results


def test_a_grading_result_is_valid_gradescope_json():
    result = GradingResult(
        tests=[
            GradedTest("allocates", 3, 3, "", "visible", "test_a"),
            GradedTest("hidden check", 1.5, 4, "half", "hidden", "test_b"),
        ],
        output="Graded in a sandbox.",
        execution_time=12.4,
    )
    data = result.as_json()
    assert validate_results(data) == []
    assert data["score"] == 4.5
    assert data["execution_time"] == 12
    assert [t["status"] for t in data["tests"]] == ["passed", "failed"]


def test_unknown_fields_and_values_are_refused():
    problems = validate_results(
        {
            "score": 1,
            "grade": "A",
            "tests": [{"name": "x", "score": 1, "max_score": 1, "visibility": "secret"}],
            "stdout_visibility": "sometimes",
        }
    )
    assert "results.grade: not a field Gradescope documents" in problems
    assert any("results.tests[0].visibility" in p for p in problems)
    assert any("results.stdout_visibility" in p for p in problems)


def test_score_is_required_unless_every_test_has_one():
    assert validate_results({"tests": [{"name": "x", "max_score": 2}]}) == [
        "results.score: required unless every test has a score"
    ]
    assert validate_results({"tests": [{"name": "x", "score": 0, "max_score": 2}]}) == []


def test_types_are_checked():
    problems = validate_results({"score": "10", "tests": [{"score": True, "max_score": 1}]})
    assert "results.score: must be int/float, got str" in problems
    assert "results.tests[0].score: must be int/float, got bool" in problems
