"""Every kit has the same shape, and its tests' points add up to what kit.toml promises."""

from __future__ import annotations

import ast

import pytest

from scalable_ai.kits.kit import STAFF_ONLY, kits_root, list_kits, load_kit, missing_parts


def _points_in(folder) -> dict[str, float]:
    """Each test function's points, read from its ``@pytest.mark.points(n)`` decorator."""
    points = {}
    for path in sorted(folder.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                for decorator in node.decorator_list:
                    if (
                        isinstance(decorator, ast.Call)
                        and getattr(decorator.func, "attr", "") == "points"
                    ):
                        points[node.name] = float(decorator.args[0].value)
                if node.name not in points:
                    pytest.fail(f"{path.name}::{node.name} carries no points")
    return points


@pytest.mark.parametrize("name", list_kits(kits_root()))
def test_a_kit_is_complete_and_its_points_add_up(name):
    kit = load_kit(name)
    assert missing_parts(kit) == []
    for folder in STAFF_ONLY[:2]:
        assert (kit.root / folder).is_dir()
    visible, hidden = _points_in(kit.root / "tests"), _points_in(kit.root / "autograder")
    assert not set(visible) & set(hidden), "test names must be unique across the two folders"
    assert sum(visible.values()) + sum(hidden.values()) == kit.points
    for name in kit.submission_files:
        assert (kit.root / "starter" / name).is_file()
        assert (kit.root / "solution" / name).is_file()


def test_there_is_at_least_the_a4_kit():
    assert "A4" in list_kits(kits_root())
