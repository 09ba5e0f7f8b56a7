"""Honest grading of A1 (parallelism) in the sandbox: the reference solution scores 100%, the
untouched starter its stated score, and the planted bugs lose exactly the points of the tests
aimed at them. Every distributed test inside runs on 4 forked gloo processes."""

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


def test_the_a1_solution_scores_100_through_the_cli(a1, tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "sai"), "kit", "grade", "A1", str(a1.root / "solution"),
         "--out", str(out), "--sandbox", "bwrap"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert validate_results(results) == []
    # Timing never decides a pass: the ring's speed ratio against gloo is measured on a
    # shared machine (before kits.timing.best_ratio, two gradings at once cost it a point).
    lost = lost_points(results)
    assert untimed(lost, []) == [], [
        t["output"] for t in results["tests"] if t["score"] < t["max_score"]
    ]
    assert a1.points == 100 and results["score"] == a1.points - sum(lost.values())
    assert "bubblewrap" in results["output"]
    assert {t["visibility"] for t in results["tests"]} == {"visible", "hidden"}


def test_the_untouched_a1_starter_scores_its_stated_low_score(a1, tmp_path):
    result = grade_submission(a1, str(submission_from(a1, tmp_path / "s", base="starter")))
    assert result.score == a1.starter_score == 0
    assert all("TODO(A1." in t.output for t in result.tests), [
        t.output[-300:] for t in result.tests if "TODO(A1." not in t.output
    ]


def test_the_a1_planted_bugs_lose_exactly_the_points_of_their_tests(a1, tmp_path):
    """A DDP without buckets or overlap, Megatron's f without its backward all-reduce, and a
    1F1B with one warm-up forward too many, graded together (see ``with_every_planted_bug``)."""
    submission, loses = with_every_planted_bug(a1, tmp_path / "s")
    assert len(loses) >= 2
    expected = [test for tests in loses.values() for test in tests]
    assert len(expected) == len(set(expected)), "a test is listed for two planted bugs"
    results = grade_submission(a1, str(submission)).as_json()
    lost = lost_points(results)
    assert sorted(untimed(lost, expected)) == sorted(expected), loses
    assert results["score"] == a1.points - sum(lost.values())
