"""Part 3 (lecture 19): speculative decoding.

A small draft model proposes ``k`` tokens; the target model scores all of them in one
forward pass; each draft token ``x`` is kept with probability ``min(1, p(x) / q(x))``
(``p`` the target's distribution, ``q`` the draft's); at the first rejection a token is drawn
from the residual ``max(p - q, 0)`` (normalized), and when all ``k`` are kept one more comes
from the target's next distribution. The output then follows the target's distribution
exactly (Leviathan, Kalman and Matias, ICML 2023; Chen et al., 2023), while the target runs
once per ``1..k+1`` tokens instead of once per token.
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
    emitted: list[int] = []
    for i, token in enumerate(draft_tokens):
        p = float(target_probs[i, token])
        q = float(draft_probs[i, token])
        u = float(torch.rand((), generator=generator))
        if u * q < p:
            emitted.append(token)
            continue
        residual = (target_probs[i] - draft_probs[i]).clamp_min(0)
        if float(residual.sum()) <= 0:
            residual = target_probs[i]
        emitted.append(int(torch.multinomial(residual / residual.sum(), 1, generator=generator)))
        return emitted
    emitted.append(int(torch.multinomial(target_probs[-1], 1, generator=generator)))
    return emitted


def next_token_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """Softmax at ``temperature``; temperature 0 is greedy: all mass on the argmax."""
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
    number of target forward passes. Models map ``(1, L)`` ids to ``(1, L, V)`` logits."""
    generator = torch.Generator().manual_seed(seed)
    output: list[int] = []
    target_forwards = 0
    while len(output) < max_new_tokens:
        context = list(prompt_ids) + output
        proposed: list[int] = []
        proposal_probs = []
        for _ in range(k):
            logits = draft(torch.tensor([context + proposed]))[0, -1].float()
            probs = next_token_probs(logits, temperature)
            proposed.append(int(torch.multinomial(probs, 1, generator=generator)))
            proposal_probs.append(probs)
        logits = target(torch.tensor([context + proposed]))[0, -(k + 1) :].float()
        target_forwards += 1
        verified = next_token_probs(logits, temperature)
        output += accept_draft(proposed, torch.stack(proposal_probs), verified, generator)
    return output[:max_new_tokens], target_forwards
