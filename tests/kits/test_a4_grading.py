"""Honest grading of A4 in the sandbox: the reference solution scores 100%, the untouched
starter its stated score, each planted bug loses exactly the points of the tests aimed at
it, and a hanging, network-touching, flooding submission is stopped and reported."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

from scalable_ai.kits.grade import grade_submission
from scalable_ai.kits.results import validate_results
from tests.kits.conftest import REPO, submission_from, with_every_planted_bug

PLANTED = tomllib.loads((REPO / "assignments" / "A4" / "planted" / "planted.toml").read_text())


def _lost(results: dict) -> dict[str, float]:
    return {
        t["extra_data"]["test"]: t["max_score"] - t["score"]
        for t in results["tests"]
        if t["score"] < t["max_score"]
    }


def test_the_reference_solution_scores_100_through_the_cli(a4, tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "sai"), "kit", "grade", "A4", str(a4.root / "solution"),
         "--out", str(out), "--sandbox", "bwrap"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    results = json.loads(out.read_text())
    assert validate_results(results) == []
    assert _lost(results) == {}, [
        t["output"] for t in results["tests"] if t["score"] < t["max_score"]
    ]
    assert results["score"] == a4.points == 100
    assert "bubblewrap" in results["output"]
    hidden = [t for t in results["tests"] if t["visibility"] == "hidden"]
    visible = [t for t in results["tests"] if t["visibility"] == "visible"]
    assert hidden and visible


def test_the_untouched_starter_scores_its_stated_low_score(a4, tmp_path):
    result = grade_submission(a4, str(submission_from(a4, tmp_path / "s", base="starter")))
    assert result.score == a4.starter_score == 0
    assert all("TODO(A4." in t.output or "not run" not in t.output for t in result.tests)


def test_the_planted_bugs_lose_exactly_the_points_of_their_tests(a4, tmp_path):
    """An allocator that leaks blocks on release and an admission that lets later requests
    overtake one that does not fit, graded together (``with_every_planted_bug``; the hostile
    submission has its own test below)."""
    submission, loses = with_every_planted_bug(a4, tmp_path / "s", leave_out=("hostile",))
    assert sorted(loses) == ["leaky_allocator", "starving_scheduler"]
    expected = [test for tests in loses.values() for test in tests]
    assert len(expected) == len(set(expected))
    results = grade_submission(a4, str(submission)).as_json()
    lost = _lost(results)
    assert sorted(lost) == sorted(expected), loses
    assert results["score"] == a4.points - sum(lost.values())


def test_a_hanging_network_touching_flooding_submission_is_stopped_and_reported(a4, tmp_path):
    """One submission hangs on import (block_allocator.py), opens a connection on every call
    (speculative.py) and prints ~600 MB (profile_engine.py); its admission is the reference.
    The grade is exactly Part 2's 30 points, each failure says why, and nothing leaks out."""
    submission = submission_from(a4, tmp_path / "s", planted="hostile")
    result = grade_submission(a4, str(submission), test_timeout_s=10)
    results = result.as_json()
    lost = _lost(results)
    assert sorted(lost) == sorted(PLANTED["hostile"]["loses"])
    assert results["score"] == 30
    outputs = {t["extra_data"]["test"]: t["output"] for t in results["tests"]}
    assert "Timeout" in outputs["test_allocate_gives_distinct_blocks"]
    assert "importing block_allocator.py failed" in outputs["test_release_returns_the_block"]
    assert "the network is off while grading" in outputs["test_all_accepted_adds_the_bonus_token"]
    assert "No space left on device" in outputs["test_profile_writes_the_throughput_plot"] or (
        "File too large" in outputs["test_profile_writes_the_throughput_plot"]
    )
    assert "tried the network" in results["output"]
    assert results["extra_data"]["network_attempts"]
    assert len(json.dumps(results)) < 200_000
