"""Part 5 (lecture L11): DPO on the micro model, as curves of the reward margin and accuracy.

Trains the lab's micro Transformer with your ``dpo_loss`` and ``sequence_logprobs`` on fixed
preference pairs against a frozen copy (the reference), and plots the mean implicit reward
margin ``r_chosen - r_rejected`` and the share of pairs ranked right, per step.

    python profile_dpo.py --out plots
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path

import torch
from a3_lab import micro_model, preference_pairs
from preference import dpo_loss, sequence_logprobs


def measure(steps: int = 20, beta: float = 0.1, lr: float = 1e-3) -> dict[str, list[float]]:
    """Per step: ``loss``, ``margin`` (mean r_chosen - r_rejected) and ``accuracy``."""
    raise NotImplementedError("TODO(A3.8): measure")


def plot(history: dict[str, list[float]], path: Path) -> None:
    """Reward margin and accuracy against the step, as a PNG."""
    raise NotImplementedError("TODO(A3.8): plot")


def main(out_dir: Path, quick: bool = False) -> dict[str, list[float]]:
    """Measure, plot to ``out_dir/dpo_margin.png``, return the history."""
    out_dir.mkdir(parents=True, exist_ok=True)
    history = measure(steps=8 if quick else 40)
    plot(history, out_dir / "dpo_margin.png")
    return history


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("plots"))
    parser.add_argument("--quick", action="store_true")
    arguments = parser.parse_args()
    history = main(arguments.out, arguments.quick)
    print(f"margin {history['margin'][0]:.3f} -> {history['margin'][-1]:.3f}")
