"""Gradescope's autograder ``results.json``: building it from per-test outcomes and checking
its shape against the fields Gradescope documents.

Gradescope's "Autograder Specifications" page documents one JSON object written to
``/autograder/results/results.json``: an optional total ``score`` (else the sum of the tests'),
``execution_time`` in seconds, ``output`` for the whole submission, ``visibility`` and
``stdout_visibility``, ``extra_data``, ``leaderboard`` entries, and ``tests``, each with
``score``, ``max_score``, ``status`` (``passed``/``failed``), ``name``, ``number``, ``output``,
``tags``, ``visibility`` (``visible``, ``hidden``, ``after_due_date``, ``after_published``) and
``extra_data``; text fields may choose an ``*_format`` of ``text``, ``html``,
``simple_format``, ``md`` or ``ansi``. :func:`validate_results` refuses anything else, so a
file that passes it is one Gradescope takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

VISIBILITIES = ("visible", "hidden", "after_due_date", "after_published")
OUTPUT_FORMATS = ("text", "html", "simple_format", "md", "ansi")

_TOP_FIELDS: dict[str, tuple[type, ...]] = {
    "score": (int, float),
    "execution_time": (int, float),
    "output": (str,),
    "output_format": (str,),
    "test_output_format": (str,),
    "test_name_format": (str,),
    "visibility": (str,),
    "stdout_visibility": (str,),
    "extra_data": (dict,),
    "tests": (list,),
    "leaderboard": (list,),
}
_TEST_FIELDS: dict[str, tuple[type, ...]] = {
    "score": (int, float),
    "max_score": (int, float),
    "status": (str,),
    "name": (str,),
    "name_format": (str,),
    "number": (str,),
    "output": (str,),
    "output_format": (str,),
    "tags": (list,),
    "visibility": (str,),
    "extra_data": (dict,),
}
_LEADERBOARD_FIELDS: dict[str, tuple[type, ...]] = {
    "name": (str,),
    "value": (int, float, str),
    "order": (str,),
}


@dataclass
class GradedTest:
    """One graded test as Gradescope shows it."""

    name: str
    score: float
    max_score: float
    output: str = ""
    visibility: str = "visible"
    #: The test function's name, for staff (Gradescope keeps a test's extra_data).
    test_id: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "score": round(self.score, 4),
            "max_score": self.max_score,
            "status": "passed" if self.score >= self.max_score else "failed",
            "output": self.output,
            "visibility": self.visibility,
            "extra_data": {"test": self.test_id},
        }


@dataclass
class GradingResult:
    """A whole submission's grade: the tests, a note for everybody, and how long it took."""

    tests: list[GradedTest]
    output: str = ""
    execution_time: float = 0.0
    extra_data: dict[str, Any] = field(default_factory=dict)

    @property
    def score(self) -> float:
        return round(sum(test.score for test in self.tests), 4)

    @property
    def max_score(self) -> float:
        return sum(test.max_score for test in self.tests)

    def as_json(self) -> dict[str, Any]:
        return {
            "score": self.score,
            "execution_time": round(self.execution_time),
            "output": self.output,
            # The grader's own stdout may name hidden tests: only staff see it.
            "stdout_visibility": "hidden",
            "extra_data": self.extra_data,
            "tests": [test.as_json() for test in self.tests],
        }


def _check_fields(
    where: str, value: Any, allowed: dict[str, tuple[type, ...]], problems: list[str]
) -> None:
    if not isinstance(value, dict):
        problems.append(f"{where}: must be an object")
        return
    for key, item in value.items():
        if key not in allowed:
            problems.append(f"{where}.{key}: not a field Gradescope documents")
        elif isinstance(item, bool) or not isinstance(item, allowed[key]):
            names = "/".join(t.__name__ for t in allowed[key])
            problems.append(f"{where}.{key}: must be {names}, got {type(item).__name__}")


def _check_choice(where: str, value: Any, choices: tuple[str, ...], problems: list[str]) -> None:
    if value is not None and value not in choices:
        problems.append(f"{where}: {value!r} is not one of {', '.join(choices)}")


def validate_results(data: Any) -> list[str]:
    """Problems that would make Gradescope reject or misread ``data`` (empty when fine)."""
    problems: list[str] = []
    _check_fields("results", data, _TOP_FIELDS, problems)
    if problems and not isinstance(data, dict):
        return problems
    tests = data.get("tests", [])
    if "score" not in data and not (
        isinstance(tests, list)
        and tests
        and all(isinstance(t, dict) and "score" in t for t in tests)
    ):
        problems.append("results.score: required unless every test has a score")
    for key in ("visibility", "stdout_visibility"):
        _check_choice(f"results.{key}", data.get(key), VISIBILITIES, problems)
    for key in ("output_format", "test_output_format", "test_name_format"):
        _check_choice(f"results.{key}", data.get(key), OUTPUT_FORMATS, problems)
    for i, test in enumerate(tests if isinstance(tests, list) else []):
        where = f"results.tests[{i}]"
        _check_fields(where, test, _TEST_FIELDS, problems)
        if not isinstance(test, dict):
            continue
        _check_choice(f"{where}.visibility", test.get("visibility"), VISIBILITIES, problems)
        _check_choice(f"{where}.status", test.get("status"), ("passed", "failed"), problems)
        for key in ("output_format", "name_format"):
            _check_choice(f"{where}.{key}", test.get(key), OUTPUT_FORMATS, problems)
        if "score" in test and "max_score" in test and test["score"] > test["max_score"] > 0:
            problems.append(f"{where}.score: more than max_score")
    for i, row in enumerate(data.get("leaderboard", []) or []):
        _check_fields(f"results.leaderboard[{i}]", row, _LEADERBOARD_FIELDS, problems)
        if isinstance(row, dict):
            _check_choice(
                f"results.leaderboard[{i}].order", row.get("order"), ("asc", "desc"), problems
            )
    return problems
