"""Speculative decoding: guess several next tokens cheaply, check them all in one forward.

A decode step reads every weight to produce one token per sequence; on a CPU (or a GPU at
small batch) that is bound by memory bandwidth, so checking ``k + 1`` positions of one
sequence costs about as much as one. If a cheap proposer guesses the next ``k`` tokens,
one forward of the target over ``[last, d1 .. dk]`` gives its distribution at every
position, and the guesses it agrees with are kept: several tokens for the price of one.

Proposer: **prompt lookup** (n-gram; Saxena 2023, vLLM's ``ngram``): the last ``n`` tokens
(n = 3, 2, 1) are searched for earlier in the sequence, and the ``k`` tokens that followed
that earlier occurrence are the guess. Code editing, extraction and summarization repeat
their input, so the guesses are often right; elsewhere they cost one wider forward.

Verification keeps the target's output distribution exactly (Leviathan et al. 2023, Chen et
al. 2023): draft token ``d`` proposed with probability ``q(d)`` is accepted with probability
``min(1, p(d) / q(d))``, ``p`` being the target's distribution at that position (after
temperature, top-k, top-p and min-p, the same processors the plain sampler applies); at
the first rejection the token is drawn from ``max(0, p - q)`` renormalized, and when every
draft is accepted one more token comes from the target's next position. Prompt lookup
proposes deterministically (``q`` is one-hot), so ``d`` is accepted with probability
``p(d)`` and a rejection draws from ``p`` without ``d``. Greedy requests accept exactly the
drafts that equal the target's argmax, so their output is the non-speculative output.

In the engine (``engine.py``) a request opts in with ``SamplingParams.speculative``; its
drafts join the continuous batch as a ``k + 1``-token chunk of that sequence, beside
ordinary decodes and prefills of other requests.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch

from scalable_ai.infer.sampling import SamplingParams, filter_top_k_top_p

if TYPE_CHECKING:
    from scalable_ai.infer.draft import DraftProposer
    from scalable_ai.infer.scheduler import ScheduledSequence
    from scalable_ai.infer.sequence import TokenSequence

#: Speculation methods a request may ask for (``draft`` needs a server with a draft model).
METHODS = ("ngram", "draft")


def propose_ngram(token_ids: Sequence[int], k: int, max_n: int = 3) -> list[int]:
    """Up to ``k`` tokens that followed the latest earlier occurrence of the sequence's last
    ``n`` tokens (longest ``n`` first); empty when nothing matches."""
    length = len(token_ids)
    if k <= 0 or length < 2:
        return []
    tokens = np.asarray(token_ids, dtype=np.int64)
    for n in range(min(max_n, length - 1), 0, -1):
        pattern = tokens[length - n :]
        # Starts of earlier windows equal to the pattern (not the pattern itself).
        windows = np.lib.stride_tricks.sliding_window_view(tokens[: length - 1], n)
        starts = np.flatnonzero((windows == pattern).all(axis=1))
        if len(starts):
            follow = int(starts[-1]) + n
            return tokens[follow : follow + k].tolist()
    return []


def target_probs(logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """(P, V) float64 probabilities the plain sampler draws from at each of ``P`` positions:
    temperature, then top-k, top-p and min-p (``sampling.py``'s order)."""
    rows = logits.double() / params.temperature
    if params.top_k > 0 or params.top_p < 1.0:
        count = rows.shape[0]
        filter_top_k_top_p(
            rows,
            torch.full((count,), max(params.top_k, 0)),
            torch.full((count,), params.top_p, dtype=rows.dtype),
        )
    probs = rows.softmax(dim=-1)
    if params.min_p > 0.0:
        best = probs.amax(dim=-1, keepdim=True)
        probs = probs.masked_fill(probs < params.min_p * best, 0.0)
        probs = probs / probs.sum(dim=-1, keepdim=True)
    return probs


@dataclass
class Verdict:
    """A verified chunk: how many drafts were kept, and the tokens to append (the kept
    drafts, then the target's own token)."""

    num_accepted: int
    tokens: list[int]


def verify_greedy(logits: torch.Tensor, drafts: list[int]) -> Verdict:
    """Keep drafts while they equal the target's argmax; then the argmax after them."""
    best = logits.float().argmax(dim=-1).tolist()
    accepted = 0
    while accepted < len(drafts) and drafts[accepted] == best[accepted]:
        accepted += 1
    return Verdict(accepted, [*drafts[:accepted], best[accepted]])


def verify_sampled(
    logits: torch.Tensor,
    drafts: list[int],
    params: SamplingParams,
    generator: torch.Generator | None,
    draft_probs: torch.Tensor | None = None,
) -> Verdict:
    """The rejection rule (module docstring). ``logits`` (len(drafts) + 1, V) are the
    target's at the chunk's positions; ``draft_probs`` (len(drafts), V) the proposer's, or
    None for a deterministic proposer (one-hot ``q``)."""
    probs = target_probs(logits.float().cpu(), params)  # a GPU's rows: a few, to the host
    uniforms = torch.rand(len(drafts) + 1, dtype=torch.float64, generator=generator)
    for i, draft in enumerate(drafts):
        p = float(probs[i, draft])
        q = 1.0 if draft_probs is None else float(draft_probs[i, draft])
        if q > 0 and uniforms[i] * q < p:  # accept with probability min(1, p / q)
            continue
        if draft_probs is None:
            residual = probs[i].clone()
            residual[draft] = 0.0
        else:
            residual = (probs[i] - draft_probs[i].double()).clamp_(min=0.0)
        token = _draw(residual, float(uniforms[-1]))
        return Verdict(i, [*drafts[:i], token])
    return Verdict(len(drafts), [*drafts, _draw(probs[len(drafts)], float(uniforms[-1]))])


def _draw(weights: torch.Tensor, uniform: float) -> int:
    """Index ``i`` with probability ``w[i] / sum(w)`` by inverse CDF at ``uniform``."""
    cdf = weights.cumsum(0)
    total = float(cdf[-1])
    if not total > 0.0:  # p equal to q everywhere it is positive: any kept token is exact
        return int(weights.argmax())
    target = torch.tensor([uniform * total], dtype=cdf.dtype)
    index = int(torch.searchsorted(cdf, target, right=True))
    last = int(torch.nonzero(weights > 0)[-1])
    return min(index, last)


@dataclass
class SpecStats:
    """Counters for ``/metrics``: drafts checked and kept, and chunks verified."""

    num_draft_tokens: int = 0
    num_accepted_tokens: int = 0
    num_verify_steps: int = 0

    @property
    def acceptance_rate(self) -> float:
        return self.num_accepted_tokens / self.num_draft_tokens if self.num_draft_tokens else 0.0

    @property
    def tokens_per_step(self) -> float:
        """Tokens a speculating sequence gains per target forward (1.0 without speculation):
        the speedup's upper bound, before the wider forward's extra cost."""
        if not self.num_verify_steps:
            return 0.0
        return (self.num_accepted_tokens + self.num_verify_steps) / self.num_verify_steps


def can_speculate(seq: TokenSequence) -> bool:
    """A decoding sequence that opted in, whose next token depends only on the target's
    distribution (no grammar, penalties, bias, log-probabilities or min_tokens ban)."""
    params = seq.params
    return (
        params.speculative is not None
        and seq.num_computed == len(seq.token_ids) - 1
        and seq.constraint is None
        and not params.has_penalties
        and not params.logit_bias
        and params.logprobs is None
        and len(seq.output_token_ids) >= params.min_tokens
    )


def propose_drafts(
    running: Sequence[TokenSequence], max_model_len: int, drafter: DraftProposer | None = None
) -> dict[int, int]:
    """Append each eligible sequence's guesses to its ``token_ids`` (the scheduler then
    schedules them as one chunk); returns seq_id -> number of drafts appended. Guesses of
    the draft model leave their distributions in ``seq.draft_probs``."""
    proposed: dict[int, int] = {}
    by_model: list[tuple[TokenSequence, int]] = []
    for seq in running:
        if not can_speculate(seq):
            continue
        params = seq.params
        room = min(
            params.num_speculative_tokens,
            params.max_tokens - len(seq.output_token_ids) - 1,
            max_model_len - len(seq.token_ids) - 1,
        )
        if params.speculative == "draft":
            by_model.append((seq, room))
            continue
        drafts = propose_ngram(seq.token_ids, room)
        if drafts:
            seq.token_ids.extend(drafts)
            proposed[seq.seq_id] = len(drafts)
    if by_model and drafter is not None:
        guesses = drafter.propose([s for s, _ in by_model], [r for _, r in by_model])
        for seq, _ in by_model:
            if seq.seq_id in guesses:
                drafts, seq.draft_probs = guesses[seq.seq_id]
                seq.token_ids.extend(drafts)
                proposed[seq.seq_id] = len(drafts)
    return proposed


def fit_drafts(
    scheduled: Sequence[ScheduledSequence],
    running: Sequence[TokenSequence],
    waiting: Sequence[TokenSequence],
    proposed: dict[int, int],
) -> None:
    """After scheduling: a chunk cut short by the token budget keeps the drafts that fit,
    a sequence not scheduled (or preempted) drops its drafts, and each chunk asks the
    runner for logits at every one of its positions."""
    placed = set()
    for item in scheduled:
        seq = item.seq
        if seq.seq_id in proposed:
            placed.add(seq.seq_id)
            del seq.token_ids[seq.num_computed + item.num_new_tokens :]
            item.num_logits = item.num_new_tokens
    for seq in [*running, *waiting]:
        count = proposed.get(seq.seq_id, 0)
        if count and seq.seq_id not in placed:
            del seq.token_ids[len(seq.token_ids) - count :]
            seq.draft_probs = None


def verify(item: ScheduledSequence, logits: torch.Tensor, stats: SpecStats) -> Verdict:
    """Check a chunk's drafts against the target's logits at its positions, then rewind
    the sequence to what was kept: the scheduler's ``after_step`` sees only accepted
    tokens (and caches only their blocks). The engine then takes the kept drafts off
    ``token_ids`` again and appends ``Verdict.tokens`` as outputs (stop rules apply)."""
    seq = item.seq
    num_drafts = item.num_logits - 1
    drafts = seq.token_ids[len(seq.token_ids) - num_drafts :]
    q = seq.draft_probs[:num_drafts] if seq.draft_probs is not None else None
    seq.draft_probs = None
    if seq.params.greedy:
        verdict = verify_greedy(logits, drafts)
    else:
        verdict = verify_sampled(logits, drafts, seq.params, seq.generator, draft_probs=q)
    item.num_new_tokens = 1 + verdict.num_accepted
    del seq.token_ids[len(seq.token_ids) - num_drafts + verdict.num_accepted :]
    stats.num_draft_tokens += num_drafts
    stats.num_accepted_tokens += verdict.num_accepted
    stats.num_verify_steps += 1
    return verdict
