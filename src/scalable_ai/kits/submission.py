"""Bring a submission into a fresh folder: from a folder, a zip file or a git repository on
this machine, with limits on size and file count, and nothing that points outside it.

A student zips their ``starter/`` folder (or its contents), hands in a folder on
Gradescope (``/autograder/submission``), or points staff at a commit of their group's
repository: all three end as a plain folder of regular files, which is all the grader reads.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from scalable_ai.errors import UserError

MAX_BYTES = 50 * 2**20
MAX_FILES = 2000
SKIPPED = {".git", "__pycache__", ".venv", ".pytest_cache", ".ipynb_checkpoints"}


@dataclass
class FetchedSubmission:
    """Where the submission's files now are, and where they came from."""

    folder: Path
    source: str
    commit: str | None = None
    #: Earlier commits whose files equal the submitted commit's outside the evidence folder
    #: (a group commits its code, runs it on the node, then commits the run folder).
    same_code_commits: list[str] = field(default_factory=list)


class _Budget:
    def __init__(self, source: str) -> None:
        self.source = source
        self.bytes = 0
        self.files = 0

    def take(self, size: int) -> None:
        self.bytes += size
        self.files += 1
        if self.bytes > MAX_BYTES:
            raise UserError(
                f"{self.source}: larger than {MAX_BYTES // 2**20} MB", field="submission"
            )
        if self.files > MAX_FILES:
            raise UserError(f"{self.source}: more than {MAX_FILES} files", field="submission")


def _copy_folder(source: Path, target: Path, budget: _Budget) -> None:
    """Regular files only (symbolic links are left out), skipping caches and ``.git``."""
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED)
        here = Path(dirpath)
        for name in sorted(filenames):
            path = here / name
            if path.is_symlink() or not path.is_file():
                continue
            budget.take(path.stat().st_size)
            destination = target / path.relative_to(source)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, destination)


def _extract_zip(source: Path, target: Path, budget: _Budget) -> None:
    try:
        archive = zipfile.ZipFile(source)
    except zipfile.BadZipFile as exc:
        raise UserError(f"{source}: not a zip file ({exc})", field="submission") from exc
    with archive:
        for info in archive.infolist():
            name = PurePosixPath(info.filename)
            if info.is_dir() or any(part in SKIPPED for part in name.parts):
                continue
            if name.is_absolute() or ".." in name.parts:
                raise UserError(f"{source}: unsafe path {info.filename!r}", field="submission")
            if (info.external_attr >> 16) & 0o170000 == 0o120000:
                continue  # a symbolic link
            budget.take(info.file_size)
            destination = target.joinpath(*name.parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as reader, open(destination, "wb") as writer:
                # file_size is the archive's claim: count what really comes out.
                written = 0
                while chunk := reader.read(2**20):
                    written += len(chunk)
                    if written > info.file_size:
                        raise UserError(f"{source}: {info.filename} is larger than it says")
                    writer.write(chunk)


#: How far back a clone reaches to find the commit a run of the evidence was made at.
HISTORY_DEPTH = 20


def _clone(url: str, target: Path) -> str:
    """A shallow clone of a repository on this machine; returns its commit."""
    env = {**os.environ, "GIT_ALLOW_PROTOCOL": "file", "GIT_TERMINAL_PROMPT": "0"}
    clone = subprocess.run(
        [
            "git",
            "clone",
            "--quiet",
            "--depth",
            str(HISTORY_DEPTH),
            "--no-hardlinks",
            url,
            str(target),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    if clone.returncode != 0:
        reason = clone.stderr.strip().splitlines()[-1] if clone.stderr.strip() else "failed"
        raise UserError(f"{url}: git clone failed: {reason}", field="submission")
    head = subprocess.run(
        ["git", "-C", str(target), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    )
    return head.stdout.strip()


def _same_code_commits(repository: Path, head: str, outside: str) -> list[str]:
    """The commits before ``head``, newest first, that differ from it only under ``outside/``
    (stops at the first that differs elsewhere)."""

    def git(*args: str) -> list[str]:
        done = subprocess.run(
            ["git", "-C", str(repository), *args], capture_output=True, text=True, timeout=30
        )
        return done.stdout.split() if done.returncode == 0 else []

    found = []
    for commit in git("rev-list", "--max-count", str(HISTORY_DEPTH), head)[1:]:
        changed = git("diff", "--name-only", "-z", commit, head)
        names = [n for chunk in changed for n in chunk.split("\0") if n]
        if any(not name.startswith(f"{outside}/") for name in names):
            break
        found.append(commit)
    return found


def _is_local_git(source: str) -> bool:
    if source.startswith("file://"):
        return True
    path = Path(source)
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


def _single_folder_inside(folder: Path) -> Path:
    """A zip of a folder holds that one folder: its contents are the submission."""
    entries = [p for p in folder.iterdir() if p.name not in SKIPPED and not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return folder


def fetch_submission(
    source: str, target: Path, evidence_folder: str | None = None
) -> FetchedSubmission:
    """Copy the submission named by ``source`` into the empty folder ``target``.
    ``evidence_folder``: for a git repository, also find the earlier commits whose files
    differ from the submitted one only in that folder (:attr:`same_code_commits`)."""
    target.mkdir(parents=True, exist_ok=True)
    budget = _Budget(source)
    if ("://" in source and not source.startswith("file://")) or source.startswith("git@"):
        raise UserError(
            f"{source}: only folders, zip files and git repositories on this machine are graded",
            field="submission",
        )
    commit = None
    same_code: list[str] = []
    if _is_local_git(source):
        clone_dir = target.parent / (target.name + ".clone")
        commit = _clone(source, clone_dir)
        if evidence_folder:
            same_code = _same_code_commits(clone_dir, commit, evidence_folder)
        _copy_folder(clone_dir, target, budget)
        shutil.rmtree(clone_dir, ignore_errors=True)
    elif Path(source).is_dir():
        _copy_folder(Path(source), target, budget)
    elif Path(source).is_file():
        _extract_zip(Path(source), target, budget)
    else:
        raise UserError(f"{source}: no such folder, zip file or git repository", field="submission")
    folder = _single_folder_inside(target)
    return FetchedSubmission(
        folder=folder, source=source, commit=commit, same_code_commits=same_code
    )
