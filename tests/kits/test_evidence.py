"""Runs as evidence: a hand-in's ``sai runs`` folder is checked against the submitted commit
and the config the handout pins (A1's ``[evidence]``), and its numbers kept for staff."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from scalable_ai.kits.evidence import check_evidence, evidence_note
from scalable_ai.kits.submission import fetch_submission
from scalable_ai.runs import git_state, open_run

A1_CONFIG = {"spec": "fsdp=8", "settings": {"steps": 50, "batch_size": 64, "seq_len": 1024}}


def _run_folder(tmp_path: Path, config: dict, world_size: int = 8) -> Path:
    """A real run folder made by the lab stack's run registry, as ``parallel.run`` makes one."""
    with open_run("parallel.run", config=config, runs_dir=tmp_path / "runs") as run:
        for step in range(3):
            run.log(step, loss=5.0 - step)
        run.summary(final_loss=3.0, tokens_per_second=1.5e6, world_size=world_size)
    return run.path


def _hand_in(tmp_path: Path, run: Path) -> Path:
    submission = tmp_path / "submission"
    (submission / "evidence").mkdir(parents=True)
    shutil.copytree(run, submission / "evidence" / run.name)
    return submission


def test_a_run_of_the_submitted_commit_with_the_pinned_config_is_verified(a1, tmp_path):
    submission = _hand_in(tmp_path, _run_folder(tmp_path, A1_CONFIG))
    commit = git_state()["commit"]
    report = check_evidence(a1.evidence, submission, commit)
    [run] = report["runs"]
    checks = {c["check"]: c["ok"] for c in run["checks"]}
    assert checks["commit"] is True and checks["command"] is True and checks["status"] is True
    assert all(checks[key] is True for key in a1.evidence.pinned)
    assert run["summary"]["tokens_per_second"] == 1.5e6
    assert run["metrics"]["steps_logged"] == 3 and run["metrics"]["last"]["loss"] == 3.0
    clean = git_state()["dirty"] is False
    assert report["verdict"] == ("verified" if clean else "mismatch")


def test_a_run_of_other_code_or_another_config_is_a_mismatch_and_says_why(a1, tmp_path):
    config = {**A1_CONFIG, "settings": {**A1_CONFIG["settings"], "steps": 5}}
    submission = _hand_in(tmp_path, _run_folder(tmp_path, config, world_size=2))
    report = check_evidence(a1.evidence, submission, "0" * 40)
    assert report["verdict"] == "mismatch"
    failed = {c["check"] for c in report["runs"][0]["checks"] if c["ok"] is False}
    assert {"commit", "config.settings.steps", "summary.world_size"} <= failed
    note = evidence_note(report)
    assert "does not match" in note and "config.settings.steps (5, pinned 50)" in note


def test_without_a_repository_the_commit_is_not_checked_and_a_missing_run_is_named(a1, tmp_path):
    submission = _hand_in(tmp_path, _run_folder(tmp_path, A1_CONFIG))
    report = check_evidence(a1.evidence, submission, None)
    [commit_check] = [c for c in report["runs"][0]["checks"] if c["check"] == "commit"]
    assert commit_check["ok"] is None and "hand in by repository" in commit_check["detail"]
    (submission / "evidence" / report["runs"][0]["run"] / "run.json").write_text("{not json")
    assert check_evidence(a1.evidence, submission, None)["runs"][0]["ok"] is False
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = check_evidence(a1.evidence, empty, None)
    assert missing["verdict"] == "missing" and "no run folder" in evidence_note(missing)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=g", "-c", "user.email=g@x", *args],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def test_the_commit_before_the_run_folder_was_committed_counts_as_the_submitted_code(tmp_path):
    """A group commits its code, runs it on the node (the run records that commit), then
    commits the run folder: the hand-in's commit differs from the run's only in evidence/."""
    repo = tmp_path / "group"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "ddp.py").write_text("CODE = 1\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "code")
    code_commit = _git(repo, "rev-parse", "HEAD")
    (repo / "evidence" / "run-1").mkdir(parents=True)
    (repo / "evidence" / "run-1" / "run.json").write_text("{}")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "evidence")
    fetched = fetch_submission(str(repo), tmp_path / "one", evidence_folder="evidence")
    assert fetched.commit != code_commit and fetched.same_code_commits == [code_commit]
    (repo / "ddp.py").write_text("CODE = 2\n")  # changed after the run: no longer the same code
    _git(repo, "commit", "-qam", "more code")
    later = fetch_submission(str(repo), tmp_path / "two", evidence_folder="evidence")
    assert later.same_code_commits == []
