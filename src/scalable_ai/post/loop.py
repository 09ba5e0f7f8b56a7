"""The optimizer loop ``sai sft``, ``sai rm`` and ``sai dpo`` share, on the pre-training parts.

Post-training steps the same way pre-training does (``train/trainer.py``): the learning rate
from ``train.schedule.lr_factor``, the optimizer from ``train.optim.OptimizerConfig`` (over
the parameters that require gradients, so LoRA trains its adapters only), bf16 autocast where
the device has it (``train.trainer.autocast_dtype``), gradient accumulation and clipping, and
every metric into the run registry. What differs is the data: the pre-training ``Trainer`` is
built around token shards and a ``SequenceLoader``, while these commands step over packed
chat rows or preference pairs, so each command hands this loop a loss over a micro-batch of
item indices and the loop does the rest.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from scalable_ai.errors import UserError
from scalable_ai.runs import Run, RunRecord, plot_metric
from scalable_ai.train.optim import OptimizerConfig
from scalable_ai.train.schedule import lr_factor
from scalable_ai.train.trainer import autocast_dtype

#: A micro-batch's loss and the scalars to log beside it (accuracies, reward margins).
LossFn = Callable[[list[int]], tuple[torch.Tensor, dict[str, float]]]


@dataclass
class LoopSection:
    """Steps, batch, schedule and precision of a post-training run.

    One optimizer step sees ``batch_size * grad_accum`` items (packed rows for SFT, preference
    pairs for the reward model and DPO). The schedule is the pre-training one (``cosine``,
    ``wsd`` or ``constant`` after a linear warmup)."""

    steps: int = 100
    batch_size: int = 8
    grad_accum: int = 1
    grad_clip: float = 1.0  # 0 disables clipping
    schedule: Literal["cosine", "wsd", "constant"] = "cosine"
    warmup_steps: int = 10
    decay_fraction: float = 0.2
    min_lr_ratio: float = 0.1
    precision: Literal["auto", "bfloat16", "float32"] = "auto"  # autocast dtype
    device: str = "auto"
    threads: int = 0  # torch CPU threads; 0 keeps torch's default
    seed: int = 0
    log_every: int = 5
    eval_every: int = 50
    progress: bool = True

    def validate(self) -> None:
        for name in ("steps", "batch_size", "grad_accum", "log_every", "eval_every"):
            if getattr(self, name) <= 0:
                raise UserError(
                    f"must be positive, got {getattr(self, name)}", field=f"train.{name}"
                )
        if self.warmup_steps < 0:
            raise UserError("must be >= 0", field="train.warmup_steps")

    def device_of(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        try:
            return torch.device(self.device)
        except RuntimeError:
            raise UserError(f"unknown device {self.device!r}", field="train.device") from None


def autocast_context(
    device: torch.device, dtype: torch.dtype | None
) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast on ``device`` (``dtype`` from ``train.trainer.autocast_dtype``), or nothing."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


class Sampler:
    """Item indices in shuffled epochs (seeded): every item once per epoch, then reshuffle."""

    def __init__(self, size: int, seed: int) -> None:
        if size <= 0:
            raise UserError("no training items", field="data")
        self.size, self.random = size, random.Random(seed)
        self.order: list[int] = []
        self.epoch = 0

    def take(self, count: int) -> list[int]:
        taken: list[int] = []
        while len(taken) < count:
            if not self.order:
                self.order = list(range(self.size))
                self.random.shuffle(self.order)
                self.epoch += 1
            taken.append(self.order.pop())
        return taken


class PostTrainer:
    """Steps ``model``'s trainable parameters on a command's loss; logs into ``run``."""

    def __init__(
        self,
        name: str,
        model: nn.Module,
        optim: OptimizerConfig,
        loop: LoopSection,
        run: Run | None,
    ) -> None:
        loop.validate()
        self.name, self.model, self.loop, self.run = name, model, loop, run
        self.device = loop.device_of()
        self.dtype = autocast_dtype(self.device, loop.precision)
        self.optimizer = optim.build(model)
        self.base_lrs = [group["lr"] for group in self.optimizer.param_groups]
        self.lr = optim.lr
        self.step = 0
        self.history: dict[str, float] = {}

    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        return autocast_context(self.device, self.dtype)

    def train_step(self, sampler: Sampler, loss_fn: LossFn) -> dict[str, float]:
        """One optimizer step over ``grad_accum`` micro-batches; returns the mean scalars."""
        loop = self.loop
        factor = lr_factor(
            self.step,
            loop.steps,
            loop.warmup_steps,
            loop.schedule,
            loop.min_lr_ratio,
            loop.decay_fraction,
        )
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * factor
        totals: dict[str, float] = {}
        for _ in range(loop.grad_accum):
            with self.autocast():
                loss, scalars = loss_fn(sampler.take(loop.batch_size))
            (loss / loop.grad_accum).backward()
            for key, value in {"loss": float(loss.detach()), **scalars}.items():
                totals[key] = totals.get(key, 0.0) + value / loop.grad_accum
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        limit = loop.grad_clip if loop.grad_clip > 0 else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(parameters, limit)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return {**totals, "grad_norm": float(grad_norm), "lr": factor * self.lr}

    def fit(
        self,
        sampler: Sampler,
        loss_fn: LossFn,
        evaluate: Callable[[], dict[str, float]] | None = None,
    ) -> dict[str, float]:
        """Run ``loop.steps`` steps; log every ``log_every``, evaluate every ``eval_every``
        and at the end. Returns the last logged training scalars and the last evaluation."""
        loop = self.loop
        last: dict[str, float] = {}
        started = time.perf_counter()
        if evaluate is not None:
            self._log(0, **self._evaluate(evaluate))
        with _Bar(self.name, loop.progress, loop.steps) as bar:
            while self.step < loop.steps:
                scalars = self.train_step(sampler, loss_fn)
                done = self.step
                if done % loop.log_every == 0 or done == loop.steps:
                    last = {**scalars, "seconds": time.perf_counter() - started}
                    self._log(done, **last, epoch=sampler.epoch)
                    bar.update(done, f"loss {scalars['loss']:.4f}")
                if evaluate is not None and (done % loop.eval_every == 0 or done == loop.steps):
                    last.update(self._log(done, **self._evaluate(evaluate)))
        return last

    def _evaluate(self, evaluate: Callable[[], dict[str, float]]) -> dict[str, float]:
        self.model.eval()
        with torch.no_grad(), self.autocast():
            values = evaluate()
        self.model.train()
        return values

    def _log(self, step: int, **scalars: float) -> dict[str, float]:
        if self.run is not None:
            self.run.log(step, **scalars)
        return scalars

    def plot(self, metrics: list[str]) -> list[Path]:
        """PNG curves of ``metrics`` against step in the run's artifacts (missing ones skipped)."""
        if self.run is None:
            return []
        record = RunRecord(self.run.path, self.run.record)
        written = []
        for metric in metrics:
            try:
                written.append(plot_metric([record], metric, self.run.artifact(f"{metric}.png")))
            except UserError:
                continue
        return written


class _Bar:
    """A rich progress bar over optimizer steps (or nothing when disabled)."""

    def __init__(self, name: str, enabled: bool, total: int) -> None:
        self.name, self.enabled, self.total = name, enabled, total

    def __enter__(self) -> _Bar:
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn(self.name),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.description}"),
                console=Console(stderr=True),
            )
            self.progress.start()
            self.task = self.progress.add_task("", total=self.total)
        return self

    def update(self, step: int, description: str) -> None:
        if self.enabled:
            self.progress.update(self.task, completed=step, description=description)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.stop()
