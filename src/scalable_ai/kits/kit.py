"""An assignment kit: one folder per assignment at the repository's top (``assignments/A4``).

Every kit has the same shape, so one builder and one grader serve them all::

    assignments/A4/
      kit.toml        id, title, points, what a submission holds, the grader's limits
      handout.md      goals, tasks, deliverables, the checkoff's questions
      questions.yaml  conceptual questions with points and a rubric (kits/rubric.py)
      conftest.py     fixtures the visible and the hidden tests share
      starter/        the student's code with TODOs (a submission is this folder, filled in)
      tests/          visible tests (students run them: ``pytest tests``)
      autograder/     hidden tests and performance checks (staff only)
      solution/       the reference solution (staff only, never in a student bundle)

Tests carry their points and visibility (``kits/plugin.py``): one test format for the
student's laptop and the grader, as otter-grader and okpy do.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from scalable_ai.errors import NotFound, UserError
from scalable_ai.kits.evidence import EvidenceSpec

#: Folders a student bundle never contains.
STAFF_ONLY = ("autograder", "solution", "planted")
#: What every kit folder must hold (``missing_parts``)...
REQUIRED = ("kit.toml", "handout.md", "questions.yaml", "conftest.py", "starter", "tests")
#: ...and what grading needs (the Gradescope zip carries only this and ``autograder/``).
REQUIRED_TO_GRADE = ("kit.toml", "conftest.py", "tests")


@dataclass
class GraderLimits:
    """What one grading run may use; each is enforced by the sandbox (``kits/sandbox.py``)."""

    time_s: int = 600
    test_timeout_s: int = 120
    memory_mb: int = 6144
    processes: int = 256
    output_kb: int = 1024
    scratch_mb: int = 256


@dataclass
class Kit:
    """One assignment kit folder and its ``kit.toml``."""

    id: str
    title: str
    root: Path
    points: float
    starter_score: float
    submission_files: list[str]
    limits: GraderLimits = field(default_factory=GraderLimits)
    #: The ``sai runs`` folder a hand-in must carry for the full version (``[evidence]``).
    evidence: EvidenceSpec | None = None
    #: The kit's version (``version`` in kit.toml); accepted enhancements ship in the next.
    version: int = 1

    @property
    def test_dirs(self) -> list[Path]:
        return [self.root / "tests", self.root / "autograder"]


def kits_root() -> Path:
    """Where kits live: ``$SAI_KITS_DIR``, else ``assignments/`` at the repository's top.

    Read from the environment directly: pages ask on every view, and building the whole
    :class:`Settings` was 7% of an assignment page's CPU under load."""
    configured = os.environ.get("SAI_KITS_DIR", "")
    if configured:
        return Path(configured).expanduser().resolve()
    return Path(__file__).resolve().parents[3] / "assignments"


def list_kits(root: Path | None = None) -> list[str]:
    root = root or kits_root()
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / "kit.toml").is_file())


def load_kit(name_or_path: str | Path, root: Path | None = None) -> Kit:
    """The kit named ``A4`` under the kits root, or the kit folder at a path."""
    candidate = Path(name_or_path)
    folder = (
        candidate
        if (candidate / "kit.toml").is_file()
        else (root or kits_root()) / str(name_or_path)
    )
    if not (folder / "kit.toml").is_file():
        known = ", ".join(list_kits(root)) or "none"
        raise NotFound(f"no kit {str(name_or_path)!r} (kits here: {known})", field="kit")
    missing = [name for name in REQUIRED_TO_GRADE if not (folder / name).exists()]
    if missing:
        raise UserError(f"kit folder {folder} lacks {', '.join(missing)}", field="kit")
    try:
        data = tomllib.loads((folder / "kit.toml").read_text())
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"{folder / 'kit.toml'}: {exc}", field="kit.toml") from exc
    try:
        limits = GraderLimits(**data.get("limits", {}))
        return Kit(
            id=str(data["id"]),
            title=str(data["title"]),
            root=folder.resolve(),
            points=float(data["points"]),
            starter_score=float(data.get("starter_score", 0)),
            submission_files=list(data["submission_files"]),
            limits=limits,
            evidence=EvidenceSpec.from_toml(data.get("evidence")),
            version=int(data.get("version", 1)),
        )
    except (KeyError, TypeError) as exc:
        raise UserError(f"{folder / 'kit.toml'}: missing or unknown field {exc}") from exc


def missing_parts(kit: Kit) -> list[str]:
    """What a complete kit folder lacks (empty when it can be handed out)."""
    return [name for name in REQUIRED if not (kit.root / name).exists()]
