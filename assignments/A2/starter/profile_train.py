"""Part 6 (lecture L10: emerging optimizers): AdamW against Muon on the same data, as loss
curves.

Trains the lab's micro Transformer on a fixed random-but-learnable token stream (a repeated
pattern, so the loss can fall) with your ``train_step``, once with ``torch.optim.AdamW`` and
once with the lab stack's Muon (``scalable_ai.train.optim``), and plots both curves.

    python profile_train.py --out plots
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from a2_lab import learnable_batches, micro_model
from train_step import train_step

from scalable_ai.parallel.parallelize import token_loss
from scalable_ai.train.optim.factory import OptimizerConfig


def measure(
    steps: int = 30, optimizers: tuple[str, ...] = ("adamw", "muon")
) -> dict[str, dict[str, list[float] | float]]:
    """Per optimizer: ``losses`` (one per step) and ``seconds`` (the whole run)."""
    raise NotImplementedError("TODO(A2.12): measure")


def plot(results: dict[str, dict[str, list[float] | float]], path: Path) -> None:
    """Training loss against step, one curve per optimizer, as a PNG."""
    # TODO(A2.12): matplotlib (Agg backend), one curve per optimizer, axes with units.
    raise NotImplementedError("TODO(A2.12): plot")


def main(out_dir: Path, quick: bool = False) -> dict[str, dict[str, list[float] | float]]:
    """Measure, plot to ``out_dir/loss_curves.png``, return the measurements."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = measure(steps=12 if quick else 60)
    plot(results, out_dir / "loss_curves.png")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("plots"))
    parser.add_argument("--quick", action="store_true")
    arguments = parser.parse_args()
    for name, run in main(arguments.out, arguments.quick).items():
        print(
            name,
            f"first loss {run['losses'][0]:.3f}, last {run['losses'][-1]:.3f},",
            f"{run['seconds']:.1f} s",
        )
