"""What leaves staff hands: the student bundle never holds a solution; the Gradescope zip is
the shape Gradescope takes and its run_autograder really grades."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scalable_ai.kits.bundle import build_gradescope_zip, build_student_bundle
from scalable_ai.kits.kit import kits_root, list_kits, load_kit
from scalable_ai.kits.results import validate_results
from tests.kits.conftest import submission_from


def test_the_student_bundle_has_no_solution_autograder_or_planted_bugs(a4, tmp_path):
    bundle = build_student_bundle(a4, tmp_path)
    names = zipfile.ZipFile(bundle).namelist()
    parts = {part for name in names for part in Path(name).parts}
    assert not parts & {"solution", "autograder", "planted"}
    for needed in ("handout.md", "questions.yaml", "conftest.py", "kit.toml"):
        assert f"A4/{needed}" in names
    assert "A4/starter/block_allocator.py" in names
    assert "A4/tests/test_block_allocator.py" in names
    # No test or helper hides a reference implementation under another name.
    solution = (a4.root / "solution" / "speculative.py").read_text()
    with zipfile.ZipFile(bundle) as z:
        assert all("u * q < p" not in z.read(n).decode(errors="replace") for n in names)
    assert "u * q < p" in solution


def test_the_gradescope_zip_has_setup_and_run_autograder_at_its_root(a4, tmp_path):
    archive = zipfile.ZipFile(build_gradescope_zip(a4, tmp_path))
    names = archive.namelist()
    for script in ("setup.sh", "run_autograder"):
        assert script in names
        mode = archive.getinfo(script).external_attr >> 16
        assert mode & stat.S_IXUSR, f"{script} must be executable"
        assert archive.read(script).startswith(b"#!/usr/bin/env bash")
    assert "kit/autograder/test_performance.py" in names
    assert "scalable-ai/pyproject.toml" in names
    assert "scalable-ai/src/scalable_ai/kits/grade.py" in names
    assert not [n for n in names if "/solution/" in n or "/planted/" in n or "/starter/" in n]


def test_run_autograder_from_the_zip_grades_a_submission_as_gradescope_would(a4, tmp_path):
    """Unzipped where Gradescope puts it (source/), with the submission in submission/,
    run_autograder writes a valid results/results.json; this one is the starter's 0."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(build_gradescope_zip(a4, tmp_path)) as archive:
        archive.extractall(root / "source")
    submission_from(a4, root / "submission", base="starter")
    env = {
        **os.environ,
        "AUTOGRADER_ROOT": str(root),
        "SAI_BIN": str(Path(sys.executable).parent / "sai"),
    }
    done = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    assert validate_results(results) == []
    assert results["score"] == a4.starter_score
    assert sum(t["max_score"] for t in results["tests"]) == a4.points


def test_the_student_bundle_runs_on_its_own(a4, tmp_path):
    """Unzipped anywhere, `pytest tests` in the bundle runs the visible tests on starter/
    and prints the visible score: with the reference code filled in, all of it."""
    with zipfile.ZipFile(build_student_bundle(a4, tmp_path)) as archive:
        archive.extractall(tmp_path / "unzipped")
    bundle = tmp_path / "unzipped" / "A4"
    for path in (a4.root / "solution").glob("*.py"):
        (bundle / "starter" / path.name).write_text(path.read_text())
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider"],
        cwd=bundle,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "kit score: 33 / 33 points" in done.stdout


@pytest.mark.parametrize("name", [k for k in list_kits(kits_root()) if k != "A4"])
def test_every_kits_student_bundle_holds_the_starter_and_no_staff_folder(name, tmp_path):
    """A1, A2 (and each later kit): the bundle has the handout, the starter and the visible
    tests, and no solution, hidden test or planted bug, nor any solution file's body."""
    kit = load_kit(name)
    bundle = build_student_bundle(kit, tmp_path)
    names = zipfile.ZipFile(bundle).namelist()
    parts = {part for n in names for part in Path(n).parts}
    assert not parts & {"solution", "autograder", "planted"}
    for needed in ("handout.md", "questions.yaml", "checkoff.yaml", "conftest.py", "kit.toml"):
        assert f"{name}/{needed}" in names
    for file in kit.submission_files:
        assert f"{name}/starter/{file}" in names
    with zipfile.ZipFile(bundle) as z:
        shipped = {n: z.read(n) for n in names}
    for path in (kit.root / "solution").glob("*.py"):
        if (kit.root / "starter" / path.name).read_bytes() != path.read_bytes():  # not given code
            assert path.read_bytes() not in shipped.values(), f"{path.name} leaks"
