"""Honest grading of A3 (post-training) in the sandbox: the reference solution scores 100%, the
untouched starter its stated score, and the planted bugs lose exactly the points of the tests
aimed at them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from scalable_ai.kits.grade import grade_submission
from scalable_ai.kits.results import validate_results
from tests.kits.conftest import (
    lost_points,
    submission_from,
    untimed,
    with_every_planted_bug,
)


def test_the_a3_solution_scores_100_through_the_cli(a3, tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "sai"), "kit", "grade", "A3", str(a3.root / "solution"),
         "--out", str(out), "--sandbox", "bwrap"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert validate_results(results) == []
    assert lost_points(results) == {}, [
        t["output"] for t in results["tests"] if t["score"] < t["max_score"]
    ]
    assert results["score"] == a3.points == 100
    assert {t["visibility"] for t in results["tests"]} == {"visible", "hidden"}


def test_the_untouched_a3_starter_scores_its_stated_low_score(a3, tmp_path):
    result = grade_submission(a3, str(submission_from(a3, tmp_path / "s", base="starter")))
    assert result.score == a3.starter_score == 0
    assert all("TODO(A3." in t.output for t in result.tests), [
        t.output[-300:] for t in result.tests if "TODO(A3." not in t.output
    ]


def test_the_a3_planted_bugs_lose_exactly_the_points_of_their_tests(a3, tmp_path):
    """An SFT mask that is not shifted, DPO preferring the rejected answer, and advantages
    scaled by the population std, graded together (see ``with_every_planted_bug``)."""
    submission, loses = with_every_planted_bug(a3, tmp_path / "s")
    expected = [test for tests in loses.values() for test in tests]
    assert len(loses) >= 2 and len(expected) == len(set(expected))
    results = grade_submission(a3, str(submission)).as_json()
    lost = lost_points(results)
    assert sorted(untimed(lost, expected)) == sorted(expected), loses
    assert results["score"] == a3.points - sum(lost.values())
