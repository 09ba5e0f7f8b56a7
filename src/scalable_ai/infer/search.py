"""A small architecture search (lecture 17, NAS): pruned shapes of one model, measured.

Each candidate is a (blocks, FFN hidden, query heads per KV head) shape made from the trained
model by Minitron-style structured pruning (``infer/prune.py``: blocks by block importance,
then channels and heads by activation importance), so no candidate is trained from scratch
(the "once-for-all" idea, Cai et al. 2020, with Minitron's pruning as the way to a sub-network).
Quality is held-out perplexity (optionally after a few distillation steps each); latency is
**serving latency measured on this machine**: the median wall time of one decode step of
:class:`~scalable_ai.infer.engine.LLMEngine` (the step ``sai serve`` runs: on a CPU the
native bf16 forward, on a GPU its own path) for a single stream at a ``latency_tokens``-token
context, with the current thread count, all candidates and the original taking turns in each
timing round. The
answer is the Pareto front of (latency, perplexity) and the best front point whose latency is
within the budget, a fraction of the original model's measured latency.
"""

from __future__ import annotations

import copy
import itertools
import statistics
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from scalable_ai.errors import UserError
from scalable_ai.infer.engine import EngineConfig, LLMEngine
from scalable_ai.infer.perplexity import perplexity
from scalable_ai.infer.prune import block_importance, distill, prune_depth, prune_width
from scalable_ai.infer.sampling import SamplingParams
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


def _engine(model: Transformer, tokenizer: object, context: int) -> LLMEngine:
    """A single-stream engine just big enough for a ``context``-token sequence."""
    block = 16
    config = EngineConfig(max_model_len=context, num_blocks=-(-context // block) + 1)
    return LLMEngine(model, tokenizer, config, model_name="candidate")  # type: ignore[arg-type]


def _decode_steps_ms(engine: LLMEngine, prompt: list[int], steps: int) -> list[float]:
    """Milliseconds of each decode step of one greedy request (its prefill step left out)."""
    params = SamplingParams(temperature=0.0, max_tokens=steps + 1, ignore_eos=True)
    engine.add_request(prompt, params)
    times: list[float] = []
    while engine.has_unfinished_requests():
        start = time.perf_counter()
        engine.step()
        times.append((time.perf_counter() - start) * 1000)
    return times[1:]


def measure_latencies(
    models: list[Transformer],
    tokenizer: object,
    tokens: int = 128,
    repeats: int = 5,
    steps: int = 8,
    dtype: torch.dtype = torch.bfloat16,
) -> list[float]:
    """Median milliseconds of one serving decode step per model at a ``tokens``-token
    context: each model, cast to ``dtype`` (the serving default), runs in its own engine and
    decodes ``steps`` tokens per round. The models take turns in each round (after a warm-up
    of each), so a change of the machine's load falls on all of them alike rather than on the
    last ones. The models are cast in place."""
    engines = [_engine(model.to(dtype).eval(), tokenizer, tokens + steps + 2) for model in models]
    prompt = [0] * tokens
    times: list[list[float]] = [[] for _ in models]
    for round_ in range(repeats + 1):
        for engine, series in zip(engines, times, strict=True):
            measured = _decode_steps_ms(engine, prompt, steps)
            if round_:  # round 0 warms up (and builds the native forward's packed weights)
                series.extend(measured)
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
    tokenizer: object,
    distill_steps: int = 0,
    lr: float = 3e-4,
    latency_tokens: int = 128,
) -> tuple[list[Candidate], float]:
    """Prune, (distill,) and measure every shape of ``grid``; the candidates and the original
    model's decode-step latency, measured in the same rounds as theirs (the original through a
    copy: ``model`` itself is left as it was). Every candidate is held in memory until then: a
    grid of g shapes holds up to g copies of the model."""
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
    original = copy.deepcopy(model)
    *latencies, baseline = measure_latencies([*students, original], tokenizer, latency_tokens)
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
    axes.set_xlabel("decode-step latency (ms, measured, serving path)")
    axes.set_ylabel("held-out perplexity")
    axes.legend()
    figure.tight_layout()
    figure.savefig(out, dpi=120)
    plt.close(figure)
    return out
