"""Plots of RL runs: reward against optimizer steps and against wall-clock seconds.

Both axes matter: a variant that learns more per step but generates longer answers, or an
asynchronous schedule that learns a little less per step but takes shorter steps, ranks
differently on each. One figure, two panels, one line per run (``bench/rl.py`` compares the
variants on one; ``sai grpo`` draws its own run's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _series(
    rows: list[dict[str, Any]], metric: str
) -> tuple[list[float], list[float], list[float]]:
    steps, seconds, values = [], [], []
    for row in rows:
        value = row.get(metric)
        if isinstance(value, int | float) and "wall_seconds" in row:
            steps.append(float(row["step"]))
            seconds.append(float(row["wall_seconds"]))
            values.append(float(value))
    return steps, seconds, values


def smoothed(values: list[float], window: int) -> list[float]:
    """Trailing mean over ``window`` points (a sampled reward is noisy step to step)."""
    out = []
    for i in range(len(values)):
        chunk = values[max(0, i - window + 1) : i + 1]
        out.append(sum(chunk) / len(chunk))
    return out


def plot_reward_curves(
    curves: dict[str, list[dict[str, Any]]],
    out: Path,
    metric: str = "reward_mean",
    title: str = "",
    window: int = 1,
) -> Path:
    """One PNG: ``metric`` vs step (left) and vs wall-clock seconds (right), a line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (by_step, by_time) = plt.subplots(1, 2, figsize=(11, 4), dpi=110, sharey=True)
    for label, rows in curves.items():
        steps, seconds, values = _series(rows, metric)
        if not steps:
            continue
        line = smoothed(values, window)
        by_step.plot(steps, line, label=label)
        by_time.plot(seconds, line, label=label)
    suffix = f" (mean of last {window})" if window > 1 else ""
    by_step.set_xlabel("optimizer step")
    by_time.set_xlabel("wall-clock seconds")
    by_step.set_ylabel(metric.replace("_", " ") + suffix)
    for axis in (by_step, by_time):
        axis.grid(alpha=0.3)
    by_time.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def plot_run_rewards(rows: list[dict[str, Any]], out: Path, title: str = "") -> Path:
    """A single run's sampled reward (and greedy evaluation reward, when logged)."""
    curves = {"sampled reward": rows}
    figure = plot_reward_curves(curves, out, title=title)
    if any("eval_reward" in row for row in rows):
        plot_reward_curves(
            {"greedy eval reward": rows},
            out.with_name(out.stem + "-eval.png"),
            "eval_reward",
            title,
        )
    return figure
