"""Shared helpers of the kit tests: the repository's kits and submissions built from them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from scalable_ai.kits.kit import Kit, kits_root, load_kit

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def a4() -> Kit:
    return load_kit("A4", root=kits_root())


def submission_from(kit: Kit, target: Path, base: str = "solution", planted: str = "") -> Path:
    """A submission folder: the kit's ``solution/`` (or ``starter/``) with a planted bug's
    files laid over it."""
    shutil.copytree(kit.root / base, target, ignore=shutil.ignore_patterns("__pycache__"))
    if planted:
        for path in (kit.root / "planted" / planted).iterdir():
            shutil.copy2(path, target / path.name)
    return target
