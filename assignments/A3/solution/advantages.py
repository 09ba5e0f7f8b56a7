"""Part 3 (lectures L15, L25: RL post-training): GRPO's advantages and clipped objective.

GRPO (Shao et al. 2024, DeepSeekMath) samples ``K`` answers per prompt and uses the group as
the baseline: ``A_i = (r_i - mean(r)) / (std(r) + eps)`` (the sample standard deviation,
``n - 1``; Dr. GRPO drops the division). A group whose answers all score the same teaches
nothing (all advantages 0). The objective is PPO's clipped surrogate per token,
``min(rho A, clip(rho, 1 - eps, 1 + eps) A)`` with ``rho = exp(logp_new - logp_old)``,
averaged over the answer's tokens and then over answers. The lab stack's
``scalable_ai.post.rl_loss.group_advantages`` is the reference for the advantages.
"""

from __future__ import annotations

import torch

STD_EPSILON = 1e-4


def group_advantages(rewards: torch.Tensor, scale_by_std: bool = True) -> torch.Tensor:
    """Advantages (G, K) of rewards (G groups of K samples)."""
    rewards = rewards.double()
    centred = rewards - rewards.mean(dim=1, keepdim=True)
    if scale_by_std:
        centred = centred / (rewards.std(dim=1, keepdim=True) + STD_EPSILON)
    return centred.float()


def clipped_objective(
    logp_new: torch.Tensor,
    logp_old: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    clip: float = 0.2,
) -> torch.Tensor:
    """The loss to minimise: minus the clipped surrogate, per-answer token mean, then mean
    over answers. logp_* and mask (N, T); advantages (N,)."""
    ratio = torch.exp(logp_new - logp_old)
    advantage = advantages.unsqueeze(-1)
    surrogate = torch.minimum(ratio * advantage, ratio.clamp(1 - clip, 1 + clip) * advantage)
    mask = mask.float()
    per_answer = (surrogate * mask).sum(dim=-1) / mask.sum(dim=-1).clamp(min=1)
    return -per_answer.mean()
