"""Conceptual questions and their rubrics (``questions.yaml``), scored the way Gradescope's
rubrics score: a question's score is its starting points plus the points of the rubric items
a grader applied, plus a per-submission adjustment, kept within ``[0, points]``.

With ``scoring: positive`` a question starts at 0 and items add credit; with ``negative`` it
starts at full points and items (negative points) take deductions. Scores are never stored
apart from the items applied: change an item's points and every submission that uses it is
re-scored by the same function.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from scalable_ai.errors import UserError


class RubricItem(BaseModel):
    id: str = Field(min_length=1)
    points: float
    description: str = Field(min_length=1)


class Question(BaseModel):
    id: str = Field(min_length=1)
    title: str = Field(min_length=1)
    points: float = Field(gt=0)
    prompt: str = Field(min_length=1)
    scoring: Literal["positive", "negative"] = "positive"
    rubric: list[RubricItem] = Field(min_length=1)

    @model_validator(mode="after")
    def _rubric_fits(self) -> Question:
        ids = [item.id for item in self.rubric]
        if len(set(ids)) != len(ids):
            raise ValueError(f"question {self.id}: rubric item ids repeat")
        if self.scoring == "positive":
            full = sum(item.points for item in self.rubric if item.points > 0)
            if abs(full - self.points) > 1e-9:
                raise ValueError(
                    f"question {self.id}: its positive rubric items add to {full:g}, "
                    f"not its {self.points:g} points"
                )
        elif any(item.points > 0 for item in self.rubric):
            raise ValueError(f"question {self.id}: negative scoring takes only deductions")
        return self

    def item(self, item_id: str) -> RubricItem:
        for item in self.rubric:
            if item.id == item_id:
                return item
        raise UserError(f"question {self.id} has no rubric item {item_id!r}", field="rubric")

    def score(
        self,
        applied: Iterable[str],
        adjustment: float = 0.0,
        points_of: Mapping[str, float] | None = None,
    ) -> float:
        """The points earned with the rubric items ``applied`` (ids) and an adjustment.
        ``points_of`` overrides items' points (staff changed them after grading began, as
        Gradescope allows: the question's own points stay)."""
        overrides = points_of or {}
        start = 0.0 if self.scoring == "positive" else self.points
        earned = sum(overrides.get(i, self.item(i).points) for i in set(applied))
        return min(max(start + earned + adjustment, 0.0), self.points)


class QuestionSet(BaseModel):
    assignment: str
    questions: list[Question] = Field(min_length=1)

    @property
    def points(self) -> float:
        return sum(q.points for q in self.questions)

    def question(self, question_id: str) -> Question:
        for question in self.questions:
            if question.id == question_id:
                return question
        raise UserError(f"no question {question_id!r} in {self.assignment}", field="question")


def load_questions(path: Path) -> QuestionSet:
    """``questions.yaml``, validated; a bad file is one line naming the field and reason."""
    try:
        data = yaml.safe_load(path.read_text())
        return QuestionSet.model_validate(data)
    except yaml.YAMLError as exc:
        raise UserError(f"{path}: not valid YAML ({exc})", field="questions.yaml") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "questions"
        raise UserError(f"{path}: {where}: {first['msg']}", field="questions.yaml") from exc
