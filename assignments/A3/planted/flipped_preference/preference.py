"""Part 2 (lecture L11: preference optimization): DPO.

Direct Preference Optimization (Rafailov et al., NeurIPS 2023) trains the policy on pairs
(chosen, rejected) without a reward model: the implicit reward of an answer is
``beta * (log pi(y|x) - log pi_ref(y|x))`` and the loss is
``-log sigmoid(r_chosen - r_rejected)``, averaged over pairs. An answer's log-probability is
the sum over its tokens (only the answer's, not the prompt's). The lab stack's
``scalable_ai.post.dpo.preference_loss`` is the reference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def sequence_logprobs(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Per row, the summed log-probability of the labels at the trained positions (labels
    -100 elsewhere): logits (B, T, V), labels (B, T) -> (B,)."""
    logits = logits.float()
    trained = labels != IGNORE_INDEX
    safe = labels.clamp(min=0)
    per_token = logits.gather(-1, safe.unsqueeze(-1)).squeeze(-1) - torch.logsumexp(logits, -1)
    return (per_token * trained).sum(dim=-1)


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    beta: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean loss, chosen rewards, rejected rewards) from summed log-probabilities (B,)."""
    chosen = beta * (policy_chosen - reference_chosen)
    rejected = beta * (policy_rejected - reference_rejected)
    return (
        -F.logsigmoid(rejected - chosen).mean(),
        chosen,
        rejected,
    )  # PLANTED: prefers the rejected answer
