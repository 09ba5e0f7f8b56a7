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
    # TODO(A3.3): gather minus logsumexp; never a (B, T, V) log_softmax copy (a performance check).
    raise NotImplementedError("TODO(A3.3): sequence_logprobs")


def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    reference_chosen: torch.Tensor,
    reference_rejected: torch.Tensor,
    beta: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean loss, chosen rewards, rejected rewards) from summed log-probabilities (B,)."""
    raise NotImplementedError("TODO(A3.4): dpo_loss")
