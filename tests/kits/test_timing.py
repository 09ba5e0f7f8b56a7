"""The kits' performance statistics: what a ratio is and how it becomes credit."""

from __future__ import annotations

import pytest

from scalable_ai.kits.timing import best_ratio, median_ratio, ratio_credit


def test_best_ratio_compares_each_sides_fastest_time():
    # A burst of load on one side's repeats (0.9 s) does not move the ratio of the fastest.
    assert best_ratio([0.010, 0.012, 0.9], [0.020, 0.9, 0.025]) == pytest.approx(2.0)
    assert best_ratio([0.0], [0.01]) == pytest.approx(0.01 / 1e-9)  # never divides by zero
    with pytest.raises(ValueError, match="at least one time"):
        best_ratio([], [0.1])


def test_ratio_credit_is_full_then_linear_then_none():
    assert ratio_credit(1.0, full_at=4.0, zero_at=12.0) == 1.0
    assert ratio_credit(4.0, full_at=4.0, zero_at=12.0) == 1.0
    assert ratio_credit(8.0, full_at=4.0, zero_at=12.0) == pytest.approx(0.5)
    assert ratio_credit(12.0, full_at=4.0, zero_at=12.0) == 0.0
    assert ratio_credit(50.0, full_at=4.0, zero_at=12.0) == 0.0


def test_median_ratio_runs_both_sides_alternately():
    calls: list[str] = []
    median_ratio(lambda: calls.append("r"), lambda: calls.append("c"), repeats=3, warmup=1)
    assert calls == ["r", "c"] * 4
