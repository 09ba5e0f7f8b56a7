"""From scored rollouts to one GRPO update: advantages, padded rows, log-probabilities, steps.

Rows are whole trajectories (prompt + completion) right-padded into micro-batches; a loss
mask marks the tokens the engine sampled, so prompt, padding and environment tokens (a tool's
reply) never enter the loss. Log-probabilities stay in the rows' own coordinates: position
``p`` of a row holds log p(token ``p+1`` | tokens ``<= p``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from scalable_ai.post.rl_loss import BatchTotals, group_advantages, policy_loss, token_logprobs
from scalable_ai.post.rollout import Rollout

if TYPE_CHECKING:
    from scalable_ai.post.grpo import GRPOTrainer


@dataclass
class ScoredBatch:
    """The groups a step trains on (each a list of the same task's rollouts)."""

    groups: list[list[Rollout]]


@dataclass
class Rows:
    """One micro-batch as tensors (B, L-1): inputs, targets, mask, engine log-probabilities."""

    inputs: torch.Tensor
    targets: torch.Tensor
    mask: torch.Tensor
    engine_logprobs: torch.Tensor
    advantages: torch.Tensor
    ref_logprobs: torch.Tensor | None = None
    old_logprobs: torch.Tensor | None = None


def batch_advantages(groups: list[list[Rollout]], trainer: GRPOTrainer) -> list[list[float]]:
    """Each rollout's advantage within its group (failed rewards left out, advantage 0)."""
    width = max(len(g) for g in groups)
    rewards = torch.zeros(len(groups), width)
    valid = torch.zeros(len(groups), width, dtype=torch.bool)
    for i, group in enumerate(groups):
        for j, rollout in enumerate(group):
            rewards[i, j] = rollout.reward
            valid[i, j] = rollout.error is None
    config = trainer.config
    advantages = group_advantages(rewards, config.baseline, config.scale_by_std, valid)
    return [[float(advantages[i, j]) for j in range(len(g))] for i, g in enumerate(groups)]


def make_rows(items: list[tuple[Rollout, float]], device: torch.device) -> Rows:
    """Right-padded tensors for (rollout, advantage) pairs."""
    length = max(len(r.prompt_ids) + len(r.completion_ids) for r, _ in items)
    ids = torch.zeros(len(items), length, dtype=torch.long)
    mask = torch.zeros(len(items), length - 1)
    engine = torch.zeros(len(items), length - 1)
    for row, (rollout, _) in enumerate(items):
        tokens = rollout.prompt_ids + rollout.completion_ids
        ids[row, : len(tokens)] = torch.tensor(tokens)
        start = len(rollout.prompt_ids) - 1  # position predicting the first completion token
        end = start + len(rollout.completion_ids)
        mask[row, start:end] = torch.tensor(rollout.sampled_mask, dtype=torch.float32)
        engine[row, start:end] = torch.tensor(rollout.engine_logprobs)
    advantages = torch.tensor([a for _, a in items])
    return Rows(
        ids[:, :-1].to(device),
        ids[:, 1:].to(device),
        mask.to(device),
        engine.to(device),
        advantages.to(device),
    )


def sequence_logprobs(model: nn.Module, rows: Rows) -> torch.Tensor:
    """log p of every target token of ``rows`` under ``model`` (B, L-1)."""
    return token_logprobs(model(rows.inputs), rows.targets)


def train_on_batch(trainer: GRPOTrainer, batch: ScoredBatch) -> dict[str, float]:
    """``updates_per_batch`` optimizer steps on the batch; the step's loss metrics."""
    config = trainer.config
    metrics = {"loss": 0.0, "kl": 0.0, "clip_fraction": 0.0, "importance_weight": 1.0}
    metrics["grad_norm"] = 0.0
    if not batch.groups:  # dynamic sampling found no informative group: nothing to learn
        return metrics
    advantages = batch_advantages(batch.groups, trainer)
    items = [
        (rollout, advantage)
        for group, group_advantage in zip(batch.groups, advantages, strict=True)
        for rollout, advantage in zip(group, group_advantage, strict=True)
        if rollout.error is None and rollout.num_sampled > 0
    ]
    if not items:
        return metrics
    size = config.micro_batch_size
    micro = [make_rows(items[i : i + size], trainer.device) for i in range(0, len(items), size)]
    totals = BatchTotals(
        tokens=float(sum(r.num_sampled for r, _ in items)),
        sequences=float(len(items)),
        rows=float(len(items)),
    )
    with torch.no_grad():
        for rows in micro:
            if trainer.reference is not None:
                rows.ref_logprobs = sequence_logprobs(trainer.reference, rows)
            if config.updates_per_batch > 1:  # the policy before this batch's first update
                rows.old_logprobs = sequence_logprobs(trainer.model, rows)
    sums = {"loss": 0.0, "kl": 0.0, "clipped": 0.0, "weight": 0.0, "tokens": 0.0}
    grad_norm = 0.0
    for _ in range(config.updates_per_batch):
        trainer.optimizer.zero_grad(set_to_none=True)
        for rows in micro:
            out = policy_loss(
                sequence_logprobs(trainer.model, rows),
                rows.advantages,
                rows.mask,
                trainer.loss_settings,
                old_logprobs=rows.old_logprobs,
                engine_logprobs=rows.engine_logprobs,
                ref_logprobs=rows.ref_logprobs,
                totals=totals,
            )
            out.loss.backward()
            sums["loss"] += float(out.loss.detach())
            sums["kl"] += out.kl_sum
            sums["clipped"] += out.clipped_tokens
            sums["weight"] += out.importance_weight_sum
            sums["tokens"] += out.tokens
        limit = config.grad_clip if config.grad_clip > 0 else float("inf")
        grad_norm = float(torch.nn.utils.clip_grad_norm_(trainer.model.parameters(), limit))
        trainer.optimizer.step()
    trainer.optimizer.zero_grad(set_to_none=True)
    tokens = max(sums["tokens"], 1.0)
    return {
        "loss": sums["loss"] / config.updates_per_batch,
        "kl": sums["kl"] / tokens,
        "clip_fraction": sums["clipped"] / tokens,
        "importance_weight": sums["weight"] / tokens,
        "grad_norm": grad_norm,
    }
