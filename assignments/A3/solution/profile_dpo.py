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
    policy = micro_model()
    reference = copy.deepcopy(policy).eval()
    chosen_ids, chosen_labels, rejected_ids, rejected_labels = preference_pairs()
    with torch.no_grad():
        ref_chosen = sequence_logprobs(reference(chosen_ids), chosen_labels)
        ref_rejected = sequence_logprobs(reference(rejected_ids), rejected_labels)
    optimizer = torch.optim.AdamW(policy.parameters(), lr=lr)
    history: dict[str, list[float]] = {"loss": [], "margin": [], "accuracy": []}
    for _ in range(steps):
        loss, chosen, rejected = dpo_loss(
            sequence_logprobs(policy(chosen_ids), chosen_labels),
            sequence_logprobs(policy(rejected_ids), rejected_labels),
            ref_chosen,
            ref_rejected,
            beta,
        )
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        margin = (chosen - rejected).detach()
        history["loss"].append(loss.item())
        history["margin"].append(margin.mean().item())
        history["accuracy"].append((margin > 0).float().mean().item())
    return history


def plot(history: dict[str, list[float]], path: Path) -> None:
    """Reward margin and accuracy against the step, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps = range(1, len(history["margin"]) + 1)
    figure, left = plt.subplots(figsize=(5, 3.5))
    left.plot(steps, history["margin"], label="reward margin")
    left.set_xlabel("DPO step")
    left.set_ylabel("mean r_chosen - r_rejected (nats x beta)")
    right = left.twinx()
    right.plot(steps, history["accuracy"], color="tab:orange", label="accuracy")
    right.set_ylabel("pairs ranked right (share)")
    left.set_title("DPO on the micro model")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


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
