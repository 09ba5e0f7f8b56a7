"""The GRPO family's loss, written once; GRPO, DAPO, Dr. GRPO and RLOO are its settings.

**Advantages** from the rewards ``r`` of one group of ``K`` samples of the same prompt:

- ``baseline="group"``: ``A_i = r_i - mean_j r_j`` (GRPO; Shao et al. 2024, DeepSeekMath);
- ``baseline="leave_one_out"``: ``A_i = r_i - mean_{j != i} r_j = K/(K-1) (r_i - mean)``
  (RLOO; Kool et al. 2019, Ahmadian et al. 2024);
- ``scale_by_std``: divide by the group's standard deviation (+ 1e-4), as GRPO does; Dr. GRPO
  (Liu et al. 2025) shows this favours too-easy and too-hard prompts and turns it off.

**Per token** ``t`` of a sampled completion, with the trainer's log-probability ``logp``, the
policy's log-probability before this update ``old``, the engine's log-probability of the
sampled token ``engine`` and the frozen reference's ``ref``:

- the ratio ``rho = exp(logp - old)`` and PPO's clipped surrogate
  ``min(rho A, clip(rho, 1 - eps_low, 1 + eps_high) A)`` (Schulman et al. 2017);
  ``eps_high > eps_low`` is DAPO's clip-higher (Yu et al. 2025), which keeps low-probability
  tokens able to grow and so keeps entropy up;
- the engine correction ``w = min(exp(old - engine), importance_cap)``: the engine samples
  with its own kernels and precision (and, asynchronously, with weights one step old), so its
  distribution is not exactly the trainer's; weighting by the truncated ratio makes the
  gradient an estimate for the trainer's policy again (truncated importance sampling, as
  TRL's ``vllm_importance_sampling_correction`` and NeMo RL's
  ``use_importance_sampling_correction``); ``importance_cap = 0`` turns it off;
- the KL to the reference by Schulman's k3 estimator ``exp(ref - logp) - (ref - logp) - 1``
  (unbiased, always >= 0), weighted by ``kl_coef`` (``beta``; DAPO and Dr. GRPO use 0);
- ``loss_t = -w * surrogate + kl_coef * k3``.

**Aggregation** over a batch of completions ``o_i`` with ``|o_i|`` loss tokens:

- ``"sequence"``: the mean over completions of each completion's mean (GRPO's paper): a long
  completion's tokens weigh less each;
- ``"token"``: the sum over all tokens / all tokens (DAPO): every token weighs the same;
- ``"constant"``: the sum over all tokens / (completions * ``constant_length``) (Dr. GRPO): no
  length normalization at all, the generation budget as a fixed scale.

Micro-batches pass the whole batch's totals (:class:`BatchTotals`) so that the sum of their
losses is exactly the batch's loss, whatever the aggregation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch

Baseline = Literal["group", "leave_one_out"]
Aggregation = Literal["sequence", "token", "constant"]
STD_EPSILON = 1e-4


def group_advantages(
    rewards: torch.Tensor,
    baseline: Baseline = "group",
    scale_by_std: bool = True,
    valid: torch.Tensor | None = None,
) -> torch.Tensor:
    """Advantages (G, K) of rewards (G groups, K samples each); ``valid`` (G, K) bool leaves
    out samples whose reward failed (they get advantage 0 and do not enter the statistics).
    The standard deviation is the sample one (n - 1), as ``torch.std`` and TRL compute it."""
    rewards = rewards.double()
    mask = torch.ones_like(rewards) if valid is None else valid.double()
    count = mask.sum(dim=1, keepdim=True)
    mean = (rewards * mask).sum(dim=1, keepdim=True) / count.clamp(min=1)
    centred = (rewards - mean) * mask
    advantages = centred
    if baseline == "leave_one_out":
        advantages = centred * count / (count - 1).clamp(min=1)
    elif baseline != "group":
        raise ValueError(f"unknown baseline {baseline!r}")
    if scale_by_std:
        std = ((centred**2).sum(dim=1, keepdim=True) / (count - 1).clamp(min=1)).sqrt()
        advantages = advantages / (std + STD_EPSILON)
    # A group with one valid sample has no baseline to compare against: no signal.
    return torch.where(count > 1, advantages, torch.zeros_like(advantages)).float()


@dataclass
class LossSettings:
    """The knobs of :func:`policy_loss` (see the module docstring for each)."""

    eps_low: float = 0.2
    eps_high: float = 0.2
    kl_coef: float = 0.04
    aggregation: Aggregation = "sequence"
    constant_length: int = 0  # "constant": the per-completion normalizer (the token budget)
    importance_cap: float = 2.0  # 0: no engine correction


@dataclass
class BatchTotals:
    """Counts over the whole batch that the aggregation divides by."""

    tokens: float  # loss tokens in the batch
    sequences: float  # completions with at least one loss token
    rows: float  # completions in the batch

    @staticmethod
    def of(mask: torch.Tensor) -> BatchTotals:
        return BatchTotals(
            tokens=float(mask.sum()),
            sequences=float((mask.sum(dim=1) > 0).sum()),
            rows=float(mask.shape[0]),
        )


@dataclass
class LossOutput:
    """The loss to backpropagate and sums the trainer turns into per-step metrics."""

    loss: torch.Tensor
    kl_sum: float  # sum of k3 over loss tokens
    clipped_tokens: float  # loss tokens whose clipped branch was taken (no gradient)
    importance_weight_sum: float
    tokens: float


def policy_loss(
    logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    settings: LossSettings,
    old_logprobs: torch.Tensor | None = None,
    engine_logprobs: torch.Tensor | None = None,
    ref_logprobs: torch.Tensor | None = None,
    totals: BatchTotals | None = None,
) -> LossOutput:
    """The loss of a (micro-)batch: ``logprobs`` (B, T) with gradient, ``advantages`` (B,),
    ``mask`` (B, T) 1 on loss tokens; ``old_logprobs`` None means this is the first update
    on the batch (``old = logp`` detached). See the module docstring for the terms."""
    mask = mask.to(logprobs.dtype)
    old = logprobs.detach() if old_logprobs is None else old_logprobs
    ratio = torch.exp(logprobs - old)
    advantage = advantages.to(logprobs.dtype).unsqueeze(1)
    clipped_ratio = ratio.clamp(1.0 - settings.eps_low, 1.0 + settings.eps_high)
    surrogate = torch.minimum(ratio * advantage, clipped_ratio * advantage)
    per_token = -surrogate
    weight = torch.ones_like(old)
    if settings.importance_cap > 0 and engine_logprobs is not None:
        weight = torch.exp(old - engine_logprobs).clamp(max=settings.importance_cap)
        per_token = per_token * weight
    kl = torch.zeros_like(per_token)
    if settings.kl_coef > 0 and ref_logprobs is not None:
        difference = ref_logprobs - logprobs
        kl = torch.exp(difference) - difference - 1.0
        per_token = per_token + settings.kl_coef * kl
    loss = aggregate(per_token, mask, settings, totals or BatchTotals.of(mask))
    clipped = ((ratio < 1.0 - settings.eps_low) & (advantage < 0)) | (
        (ratio > 1.0 + settings.eps_high) & (advantage > 0)
    )
    with torch.no_grad():
        return LossOutput(
            loss=loss,
            kl_sum=float((kl * mask).sum()),
            clipped_tokens=float((clipped.to(mask.dtype) * mask).sum()),
            importance_weight_sum=float((weight * mask).sum()),
            tokens=float(mask.sum()),
        )


def aggregate(
    per_token: torch.Tensor, mask: torch.Tensor, settings: LossSettings, totals: BatchTotals
) -> torch.Tensor:
    """One number from per-token losses (see "Aggregation" in the module docstring)."""
    masked = per_token * mask
    if settings.aggregation == "token":
        return masked.sum() / max(totals.tokens, 1.0)
    if settings.aggregation == "sequence":
        lengths = mask.sum(dim=1).clamp(min=1)
        return (masked.sum(dim=1) / lengths).sum() / max(totals.sequences, 1.0)
    if settings.aggregation == "constant":
        if settings.constant_length < 1:
            raise ValueError("aggregation 'constant' needs constant_length >= 1")
        return masked.sum() / (totals.rows * settings.constant_length)
    raise ValueError(f"unknown aggregation {settings.aggregation!r}")


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) per position from logits (B, T, V): ``gather - logsumexp``, which never
    materializes the (B, T, V) log-softmax (49,152 columns for SmolLM2)."""
    logits = logits.float()
    chosen = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return chosen - torch.logsumexp(logits, dim=-1)
