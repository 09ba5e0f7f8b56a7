"""Part 1 (lectures L11–L13: SFT): which tokens a supervised fine-tuning step trains.

A chat is one token sequence (system, user and assistant turns under the chat template); SFT
trains only the assistant's tokens (and the end-of-turn token after each, so the model learns
to stop). With next-token prediction the label at position ``t`` is the token at ``t + 1``:
it is trained exactly when **that next token** is an assistant token. The lab stack's
``scalable_ai.post.chat.targets_of`` is the reference.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100


def sft_labels(ids: list[int], assistant_mask: list[bool]) -> list[int]:
    """Next-token labels: ``ids[t + 1]`` where ``assistant_mask[t + 1]``, else -100; the
    last position has no next token (-100)."""
    labels = [
        token if trained else IGNORE_INDEX
        for token, trained in zip(ids[1:], assistant_mask[1:], strict=True)
    ]
    return [*labels, IGNORE_INDEX]


def masked_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the trained positions only (logits (B, T, V), labels (B, T))."""
    return F.cross_entropy(
        logits.flatten(0, 1).float(), labels.flatten(), ignore_index=IGNORE_INDEX
    )
