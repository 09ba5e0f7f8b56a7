"""Part 3 (lecture 19): speculative decoding.

A small draft model proposes ``k`` tokens; the target model scores all of them in one
forward pass; each draft token ``x`` is kept with probability ``min(1, p(x) / q(x))``
(``p`` the target's distribution, ``q`` the draft's); at the first rejection a token is drawn
from the residual ``max(p - q, 0)`` (normalized), and when all ``k`` are kept one more comes
from the target's next distribution (Leviathan, Kalman and Matias, ICML 2023; Chen et al.,
2023). Use ``generator`` for every random draw, so a seed reproduces a run.
"""

from __future__ import annotations

import torch
from torch import nn


def accept_draft(
    draft_tokens: list[int],
    draft_probs: torch.Tensor,
    target_probs: torch.Tensor,
    generator: torch.Generator,
) -> list[int]:
    """The tokens one speculative step emits: the accepted draft prefix, then one token from
    the residual (at a rejection) or from ``target_probs[k]`` (all accepted).

    ``draft_probs`` is ``(k, V)``: the draft's distribution at each proposed position;
    ``target_probs`` is ``(k + 1, V)``: the target's at the same positions and one more.
    """
    raise NotImplementedError("TODO(A4.3): accept_draft")


def next_token_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Softmax at ``temperature``; temperature 0 is greedy: all mass on the argmax (given)."""
    if temperature == 0:
        return torch.nn.functional.one_hot(logits.argmax(-1), logits.shape[-1]).to(logits.dtype)
    return torch.softmax(logits / temperature, dim=-1)


@torch.no_grad()
def speculative_generate(
    target: nn.Module,
    draft: nn.Module,
    prompt_ids: list[int],
    max_new_tokens: int,
    k: int = 4,
    temperature: float = 0.0,
    seed: int = 0,
) -> tuple[list[int], int]:
    """Generate ``max_new_tokens`` with draft-then-verify steps; returns the tokens and the
    number of target forward passes. Models map ``(1, L)`` ids to ``(1, L, V)`` logits.

    TODO(A4.3): per step, let the draft propose ``k`` tokens one at a time (sampling from
    ``next_token_probs``), run the target ONCE on context + proposals, take its last
    ``k + 1`` positions' distributions, and extend the output with ``accept_draft``.
    (Recomputing the whole context each pass is fine at this size; the handout's question
    3.3 asks what a KV cache changes.)
    """
    raise NotImplementedError("TODO(A4.3): speculative_generate")
