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

from a2_lab import learnable_batches, micro_model
from train_step import train_step

from scalable_ai.parallel.parallelize import token_loss
from scalable_ai.train.optim.factory import OptimizerConfig


def measure(
    steps: int = 30, optimizers: tuple[str, ...] = ("adamw", "muon")
) -> dict[str, dict[str, list[float] | float]]:
    """Per optimizer: ``losses`` (one per step) and ``seconds`` (the whole run)."""
    results: dict[str, dict[str, list[float] | float]] = {}
    for name in optimizers:
        model = micro_model(seed=0)
        lr = 3e-3 if name == "adamw" else 0.02
        optimizer = OptimizerConfig(name=name, lr=lr).build(model)
        losses = []
        started = time.perf_counter()
        for micro_batches in learnable_batches(steps, accumulation=2):
            loss, _ = train_step(model, micro_batches, optimizer, token_loss, max_norm=1.0)
            losses.append(loss)
        results[name] = {"losses": losses, "seconds": time.perf_counter() - started}
    return results


def plot(results: dict[str, dict[str, list[float] | float]], path: Path) -> None:
    """Training loss against step, one curve per optimizer, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5, 3.5))
    for name, run in results.items():
        axis.plot(range(1, len(run["losses"]) + 1), run["losses"], label=name)
    axis.set_xlabel("optimizer step")
    axis.set_ylabel("training loss (nats/token)")
    axis.set_title("AdamW against Muon on the micro model")
    axis.legend()
    axis.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


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
