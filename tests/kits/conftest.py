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


@pytest.fixture(scope="session")
def a1() -> Kit:
    return load_kit("A1", root=kits_root())


@pytest.fixture(scope="session")
def a2() -> Kit:
    return load_kit("A2", root=kits_root())


@pytest.fixture(scope="session")
def a3() -> Kit:
    return load_kit("A3", root=kits_root())


@pytest.fixture(scope="session")
def a5() -> Kit:
    return load_kit("A5", root=kits_root())


def lost_points(results: dict) -> dict[str, float]:
    """Test function name -> points it lost, from a ``results.json``."""
    return {
        t["extra_data"]["test"]: t["max_score"] - t["score"]
        for t in results["tests"]
        if t["score"] < t["max_score"]
    }


def untimed(lost: dict[str, float], expected: list[str]) -> list[str]:
    """The tests that lost points, leaving aside timed ones (``_speed_`` in the name) that no
    planted bug aims at: a speed ratio is measured on a shared machine, and a busy CI worker
    once cost a correct ring a point beside three planted bugs. The planted bugs' own tests,
    and every untimed test, still count exactly."""
    return [test for test in lost if test in expected or "_speed_" not in test]


def submission_from(kit: Kit, target: Path, base: str = "solution", planted: str = "") -> Path:
    """A submission folder: the kit's ``solution/`` (or ``starter/``) with a planted bug's
    files laid over it."""
    shutil.copytree(kit.root / base, target, ignore=shutil.ignore_patterns("__pycache__"))
    if planted:
        for path in (kit.root / "planted" / planted).iterdir():
            shutil.copy2(path, target / path.name)
    return target


def with_every_planted_bug(
    kit: Kit, target: Path, leave_out: tuple[str, ...] = ()
) -> tuple[Path, dict[str, list[str]]]:
    """The solution with every planted bug of ``planted/planted.toml`` laid over it at once
    (each bug lives in files of its own), and each bug's list of the tests it must lose.

    One grading run instead of one per bug (kit tests may add only minutes to ``make
    test``): the bugs touch different files and their lists are disjoint, so the tests lost
    must be exactly the union of the lists.
    """
    import tomllib

    planted = tomllib.loads((kit.root / "planted" / "planted.toml").read_text())
    planted = {name: entry for name, entry in planted.items() if name not in leave_out}
    shutil.copytree(kit.root / "solution", target, ignore=shutil.ignore_patterns("__pycache__"))
    touched: set[str] = set()
    for name in planted:
        for path in (kit.root / "planted" / name).iterdir():
            assert path.name not in touched, f"two planted bugs replace {path.name}"
            touched.add(path.name)
            shutil.copy2(path, target / path.name)
    return target, {name: list(entry["loses"]) for name, entry in planted.items()}
