"""Grade a submission against a kit: its visible and hidden tests, run in the sandbox, scored
into Gradescope's ``results.json``.

The staging folder holds three things, bound into the sandbox at fixed places: the kit's
tests and shared fixtures (read-only; never ``solution/`` or ``starter/``), the submission
(writable: it is the student's scratch), and an output folder where the plugin appends one
JSON line per collected test and per result. Reading those lines afterwards, rather than
trusting an exit code, is what lets a crash, a hang or a flood of output still give a clear
grade: every test that was collected but never reported scores zero and says why.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from scalable_ai.errors import UserError
from scalable_ai.kits.evidence import check_evidence, evidence_note
from scalable_ai.kits.kit import Kit, kits_root
from scalable_ai.kits.results import GradedTest, GradingResult
from scalable_ai.kits.sandbox import Bind, SandboxRun, run_sandboxed
from scalable_ai.kits.submission import fetch_submission

INSIDE = "/tmp/grade"
LOG_LIMIT = 8000


def _stage_kit(kit: Kit, target: Path) -> None:
    """Copy what grading needs, and only that: no solution, no starter."""
    target.mkdir(parents=True)
    for name in ("conftest.py", "kit.toml"):
        shutil.copy2(kit.root / name, target / name)
    (target / "pytest.ini").write_text("[pytest]\n")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for folder in kit.test_dirs:
        if folder.is_dir():
            shutil.copytree(folder, target / folder.name, ignore=ignore)


def _pytest_argv(kit_dir: str, submission_dir: str, results: str, test_timeout: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "scalable_ai.kits.plugin",
        "-p",
        "no:cacheprovider",
        "--rootdir",
        kit_dir,
        # An explicit (empty) configuration: nothing in the submission can configure pytest.
        "-c",
        f"{kit_dir}/pytest.ini",
        "-q",
        "--tb=short",
        "--show-capture=no",
        "--color=no",
        f"--timeout={test_timeout}",
        f"--kit-results={results}",
        f"--kit-submission={submission_dir}",
        f"{kit_dir}/tests",
        f"{kit_dir}/autograder",
    ]


def _sandbox_env(home: str) -> dict[str, str]:
    return {
        "PATH": os.path.dirname(sys.executable) + ":/usr/local/bin:/usr/bin:/bin",
        "HOME": home,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        # One thread: fair timing ratios on a shared machine, and many graders side by side.
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONHASHSEED": "0",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp",
    }


def _hidden_folders(kit: Kit) -> list[Path]:
    """The kits (solutions, planted bugs) are invisible inside the sandbox."""
    root = kits_root()
    return [root] if kit.root.is_relative_to(root) else [root, kit.root]


def read_records(path: Path) -> list[dict[str, Any]]:
    """The plugin's JSON lines; a torn last line (the run was killed mid-write) is skipped."""
    records = []
    if not path.is_file():
        return records
    for line in path.read_text(errors="replace").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _why_not_run(run: SandboxRun) -> str:
    if run.stopped:
        return f"not run: the grader {run.stopped}"
    return f"not run: the test run ended early (exit code {run.returncode})"


def assemble(kit: Kit, records: list[dict[str, Any]], run: SandboxRun) -> GradingResult:
    """Per-test scores from the plugin's records; unreported tests score zero with a reason."""
    collected = [r for r in records if r.get("kind") == "collected"]
    results = {r["nodeid"]: r for r in records if r.get("kind") == "result"}
    attempts = [a for r in records if r.get("kind") == "network" for a in r["attempts"]]
    notes = [f"Graded in a sandbox ({run.sandbox}) in {run.elapsed_s:.0f} s."]
    if run.stopped:
        notes.append(f"The submission was {run.stopped}.")
    if attempts:
        notes.append(f"The submission tried the network, which is off while grading: {attempts[0]}")
    tests: list[GradedTest] = []
    for meta in collected:
        result = results.get(meta["nodeid"])
        tests.append(
            GradedTest(
                name=meta["name"],
                score=float(result["score"]) if result else 0.0,
                max_score=float(meta["max_score"]),
                output=result["output"] if result else _why_not_run(run),
                visibility=meta["visibility"],
                test_id=meta.get("test", ""),
            )
        )
    if not collected:
        notes.append("The grader could not even collect its tests: see the log (staff only).")
        tests.append(
            GradedTest("the autograder ran", 0.0, kit.points, _why_not_run(run), "visible")
        )
    elif abs(sum(t.max_score for t in tests) - kit.points) > 1e-6:
        notes.append(
            f"Staff note: the tests carry {sum(t.max_score for t in tests):g} points, "
            f"kit.toml says {kit.points:g}."
        )
    log = run.output if len(run.output) <= LOG_LIMIT else run.output[-LOG_LIMIT:]
    return GradingResult(
        tests=tests,
        output="\n".join(notes + run.notes),
        execution_time=run.elapsed_s,
        extra_data={
            "kit": kit.id,
            "sandbox": run.sandbox,
            "stopped": run.stopped,
            "exit_code": run.returncode,
            "network_attempts": attempts,
            "log": log,
        },
    )


def grade_submission(
    kit: Kit,
    source: str,
    *,
    sandbox: str = "auto",
    time_limit_s: int | None = None,
    test_timeout_s: int | None = None,
) -> GradingResult:
    """Fetch ``source`` (folder, zip or local git repository), run the kit's tests on it in
    the sandbox, and score it. Raises :class:`UserError` only for a submission that cannot be
    read at all; whatever the code does is reported in the result."""
    if importlib.util.find_spec("pytest_timeout") is None:
        raise UserError("grading needs pytest and pytest-timeout: pip install 'scalable-ai[kits]'")
    limits = replace(
        kit.limits,
        time_s=time_limit_s or kit.limits.time_s,
        test_timeout_s=test_timeout_s or kit.limits.test_timeout_s,
    )
    with tempfile.TemporaryDirectory(prefix="sai-grade-") as staging_name:
        staging = Path(staging_name)
        staging.chmod(0o755)
        fetched = fetch_submission(
            source, staging / "submission", kit.evidence.folder if kit.evidence else None
        )
        # Read before the submission's code runs: the sandbox may write in its own folder.
        evidence = (
            check_evidence(kit.evidence, fetched.folder, fetched.commit, fetched.same_code_commits)
            if kit.evidence
            else None
        )
        _stage_kit(kit, staging / "kit")
        (staging / "out").mkdir()
        (staging / "out" / "results.jsonl").touch()
        (staging / "home").mkdir()
        binds = [
            Bind(staging / "kit", f"{INSIDE}/kit"),
            Bind(fetched.folder, f"{INSIDE}/submission", writable=True),
            Bind(staging / "out", f"{INSIDE}/out", writable=True),
            Bind(staging / "home", f"{INSIDE}/home", writable=True),
        ]
        from scalable_ai.kits.sandbox import bubblewrap_works

        inside = sandbox == "bwrap" or (sandbox == "auto" and bubblewrap_works())
        place = {
            "kit": f"{INSIDE}/kit" if inside else str(staging / "kit"),
            "submission": f"{INSIDE}/submission" if inside else str(fetched.folder),
            "out": f"{INSIDE}/out" if inside else str(staging / "out"),
            "home": f"{INSIDE}/home" if inside else str(staging / "home"),
        }
        argv = _pytest_argv(
            place["kit"],
            place["submission"],
            f"{place['out']}/results.jsonl",
            limits.test_timeout_s,
        )
        run = run_sandboxed(
            argv,
            binds=binds,
            cwd=place["submission"],
            limits=limits,
            env=_sandbox_env(place["home"]),
            hide=_hidden_folders(kit),
            mode=sandbox,
        )
        result = assemble(kit, read_records(staging / "out" / "results.jsonl"), run)
    if fetched.commit:
        result.extra_data["commit"] = fetched.commit
    if evidence is not None:
        result.extra_data["evidence"] = evidence
        result.output += "\n" + evidence_note(evidence)
    return result
