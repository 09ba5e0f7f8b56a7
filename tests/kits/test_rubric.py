"""Conceptual questions with Gradescope-style rubrics (questions.yaml)."""

from __future__ import annotations

import pytest

from scalable_ai.errors import UserError
from scalable_ai.kits.rubric import Question, load_questions


def test_the_a4_questions_load_and_their_rubrics_add_up(a4):
    questions = load_questions(a4.root / "questions.yaml")
    assert questions.assignment == "A4"
    assert questions.points == 40
    for question in questions.questions:
        assert question.score([item.id for item in question.rubric]) == question.points


def _question(scoring: str, items: list[tuple[str, float]], points: float = 4) -> Question:
    return Question(
        id="q",
        title="t",
        points=points,
        prompt="p",
        scoring=scoring,
        rubric=[{"id": i, "points": p, "description": i} for i, p in items],
    )


def test_positive_scoring_adds_applied_items_and_clamps():
    question = _question("positive", [("a", 2), ("b", 2), ("late", -1)])
    assert question.score([]) == 0
    assert question.score(["a"]) == 2
    assert question.score(["a", "late"]) == 1
    assert question.score(["a", "b"], adjustment=3) == 4  # never above the points
    assert question.score(["late"]) == 0  # never below zero


def test_negative_scoring_starts_full_and_deducts():
    question = _question("negative", [("wrong-sign", -2), ("no-units", -1)])
    assert question.score([]) == 4
    assert question.score(["wrong-sign", "no-units"]) == 1


def test_changing_an_items_points_rescores_every_answer_that_uses_it():
    question = _question("positive", [("a", 2), ("b", 2)])
    answers = {"ann": ["a"], "bob": ["a", "b"], "cy": ["b"]}
    before = {who: question.score(items) for who, items in answers.items()}
    question.rubric = [question.item("a").model_copy(update={"points": 3}), question.item("b")]
    question.points = 5
    after = {who: question.score(items) for who, items in answers.items()}
    assert before == {"ann": 2, "bob": 4, "cy": 2}
    assert after == {"ann": 3, "bob": 5, "cy": 2}


def test_a_rubric_that_does_not_add_up_names_the_question(tmp_path):
    path = tmp_path / "questions.yaml"
    path.write_text(
        "assignment: A9\nquestions:\n  - id: '1'\n    title: t\n    points: 5\n    prompt: p\n"
        "    rubric:\n      - {id: a, points: 2, description: d}\n"
    )
    with pytest.raises(UserError, match="question 1: its positive rubric items add to 2"):
        load_questions(path)


def test_an_unknown_rubric_item_is_a_clear_error():
    with pytest.raises(UserError, match="no rubric item 'zzz'"):
        _question("positive", [("a", 4)]).score(["zzz"])
