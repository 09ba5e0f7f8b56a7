"""A small architecture search (lecture 17, NAS): pruned shapes of one model, measured.

Each candidate is a (blocks, FFN hidden, query heads per KV head) shape made from the trained
model by Minitron-style structured pruning (``infer/prune.py``: blocks by block importance,
then channels and heads by activation importance), so no candidate is trained from scratch
(the "once-for-all" idea, Cai et al. 2020, with Minitron's pruning as the way to a sub-network).
Quality is held-out perplexity (optionally after a few distillation steps each); latency is
**measured on this machine**: the median wall time of the plain PyTorch forward over a
``latency_tokens``-token prompt, in the model's dtype and the current thread count, all
candidates and the original taking turns in each timing round. The
answer is the Pareto front of (latency, perplexity) and the best front point whose latency is
within the budget, a fraction of the original model's measured latency.
"""

from __future__ import annotations

import itertools
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from scalable_ai.errors import UserError
from scalable_ai.infer.perplexity import perplexity
from scalable_ai.infer.prune import block_importance, distill, prune_depth, prune_width
from scalable_ai.model.transformer import Transformer


@dataclass
class Candidate:
    """One pruned shape with its measurements; ``on_front`` once the front is computed."""

    n_layers: int
    ffn_hidden: int
    heads_per_group: int
    parameters: int = 0
    latency_ms: float = 0.0
    perplexity: float = 0.0
    on_front: bool = False

    def as_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)


@torch.no_grad()
def measure_latencies(
    models: list[Transformer], tokens: int = 128, repeats: int = 9
) -> list[float]:
    """Median milliseconds of one forward over a ``tokens``-token prompt, per model. The
    models take turns in each round (after a warm-up of each), so a change of the machine's
    load during the measurement falls on all of them alike rather than on the last ones."""
    times: list[list[float]] = [[] for _ in models]
    for round_ in range(repeats + 1):
        for model, series in zip(models, times, strict=True):
            ids = torch.zeros((1, tokens), dtype=torch.int64, device=model.embed.weight.device)
            start = time.perf_counter()
            model(ids)
            if round_:  # round 0 warms up
                series.append((time.perf_counter() - start) * 1000)
    return [statistics.median(series) for series in times]


def pareto_front(candidates: list[Candidate]) -> list[Candidate]:
    """The candidates no other is at least as fast and strictly better than (lower perplexity),
    sorted by latency; marks them ``on_front``."""
    front: list[Candidate] = []
    best = float("inf")
    for candidate in sorted(candidates, key=lambda c: (c.latency_ms, c.perplexity)):
        if candidate.perplexity < best:
            front.append(candidate)
            best = candidate.perplexity
    for candidate in candidates:
        candidate.on_front = candidate in front
    return front


def shapes(
    model: Transformer, depths: list[int], widths: list[int], heads: list[int]
) -> list[tuple[int, int, int]]:
    """Every (blocks, ffn_hidden, heads_per_group) to try, checked against the model."""
    config = model.config
    group = config.n_heads // config.n_kv_heads
    for name, values, top in (
        ("depths", depths, config.n_layers),
        ("widths", widths, config.ffn_hidden),
        ("heads", heads, group),
    ):
        if not values or any(not 0 < v <= top for v in values):
            raise UserError(f"each value must be in 1..{top}, got {values}", field=name)
    return list(itertools.product(sorted(set(depths)), sorted(set(widths)), sorted(set(heads))))


def search(
    model: Transformer,
    calibration: list[torch.Tensor],
    held_out: list[torch.Tensor],
    grid: list[tuple[int, int, int]],
    distill_steps: int = 0,
    lr: float = 3e-4,
    latency_tokens: int = 128,
) -> tuple[list[Candidate], float]:
    """Prune, (distill,) and measure every shape of ``grid``; the candidates and the original
    model's latency, measured in the same rounds as theirs. (Every candidate is held in memory
    until then: a grid of g shapes holds up to g copies of the model.)"""
    scores = block_importance(model, calibration)
    ranked = sorted(range(len(scores)), key=lambda i: scores[i])  # least important first
    results, students = [], []
    for n_layers, ffn_hidden, heads_per_group in grid:
        student = prune_depth(model, sorted(ranked[: model.config.n_layers - n_layers]))
        student = prune_width(student, calibration, ffn_hidden, heads_per_group)
        if distill_steps:
            distill(student, model, calibration, distill_steps, lr)
        results.append(
            Candidate(
                n_layers,
                ffn_hidden,
                heads_per_group,
                parameters=sum(p.numel() for p in student.parameters()),
                perplexity=perplexity(student, held_out, forward_path="model"),
            )
        )
        students.append(student)
    *latencies, baseline = measure_latencies([*students, model], latency_tokens)
    for candidate, latency in zip(results, latencies, strict=True):
        candidate.latency_ms = latency
    pareto_front(results)
    return results, baseline


def within_budget(candidates: list[Candidate], budget_ms: float) -> Candidate | None:
    """The best-perplexity front candidate no slower than the budget (None if none is)."""
    fitting = [c for c in candidates if c.on_front and c.latency_ms <= budget_ms]
    return min(fitting, key=lambda c: c.perplexity) if fitting else None


def plot_front(
    candidates: list[Candidate], baseline_ms: float, budget_ms: float, out: Path
) -> Path:
    """Perplexity against latency, the front joined, the budget as a vertical line (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 4))
    axes.scatter(
        [c.latency_ms for c in candidates], [c.perplexity for c in candidates], color="0.6"
    )
    front = sorted((c for c in candidates if c.on_front), key=lambda c: c.latency_ms)
    axes.plot([c.latency_ms for c in front], [c.perplexity for c in front], "o-", color="C0")
    for c in front:
        label = f"{c.n_layers}L/{c.ffn_hidden}/{c.heads_per_group}h"
        axes.annotate(label, (c.latency_ms, c.perplexity), fontsize=7)
    axes.axvline(budget_ms, color="C3", linestyle="--", label="budget")
    axes.axvline(baseline_ms, color="0.3", linestyle=":", label="original")
    axes.set_xlabel("forward latency (ms, measured)")
    axes.set_ylabel("held-out perplexity")
    axes.legend()
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out
