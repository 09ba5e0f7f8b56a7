"""Log-probabilities of given tokens (scoring, not sampling): prompt ``logprobs`` with ``echo``.

An evaluation harness asks "how likely is this continuation after this context?" (a
multiple-choice answer, a held-out document's perplexity). That is one causal forward over
the whole sequence and the log-softmax at each position, read at the next token: no KV
cache and no sampling. ``/v1/completions`` with ``echo`` and ``logprobs`` returns exactly
these numbers for the prompt's tokens (OpenAI's legacy API, which lm-eval's
``local-completions`` model reads), and ``sai eval`` computes them in-process with the same
function, so the two agree to float rounding.

Sequences are scored in batches, right-padded: with causal attention a padding token after
a sequence cannot change what came before it, so padding changes no logprob. Only the rows
whose logprobs are asked for go through the LM head (``logits_indices``), which on a
49,152-token vocabulary is most of the cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class ScoredToken:
    """One token's log-probability given the tokens before it, whether it was the argmax
    (greedy) choice there, and the ``top`` most likely tokens at that position."""

    token_id: int
    logprob: float
    greedy: bool
    top: list[tuple[int, float]]


def _batches(requests: list[tuple[list[int], int]], max_batch_tokens: int) -> list[list[int]]:
    """Indices of requests grouped so that each padded batch holds at most
    ``max_batch_tokens`` tokens (one over-long sequence is a batch of its own); longest first
    so sequences of similar length share a batch and little is padding."""
    order = sorted(range(len(requests)), key=lambda i: -len(requests[i][0]))
    batches: list[list[int]] = []
    current: list[int] = []
    for index in order:
        width = len(requests[current[0]][0]) if current else len(requests[index][0])
        if current and width * (len(current) + 1) > max_batch_tokens:
            batches.append(current)
            current = []
        current.append(index)
    if current:
        batches.append(current)
    return batches


@torch.inference_mode()
def score_tokens(
    model: nn.Module,
    requests: list[tuple[list[int], int]],
    top: int = 0,
    max_batch_tokens: int = 4096,
    pad_id: int = 0,
) -> list[list[ScoredToken]]:
    """For each ``(token_ids, start)``: the scores of ``token_ids[start:]``, each given all
    the tokens before it (``start`` >= 1: the first token has no context to be scored on).

    ``top`` > 0 also returns the ``top`` most likely tokens at each scored position.
    Logprobs are computed in float32 whatever the model's dtype.
    """
    for token_ids, start in requests:
        if not 1 <= start <= len(token_ids):
            raise ValueError(f"start {start} outside 1..{len(token_ids)}")
    device = next(model.parameters()).device
    results: list[list[ScoredToken]] = [[] for _ in requests]
    for batch in _batches(requests, max_batch_tokens):
        width = max(len(requests[i][0]) for i in batch)
        rows = torch.full((len(batch), width), pad_id, dtype=torch.long)
        logit_rows: list[int] = []  # flat (row * width + position) of each predicting position
        for row, index in enumerate(batch):
            token_ids, start = requests[index]
            rows[row, : len(token_ids)] = torch.tensor(token_ids)
            logit_rows.extend(row * width + p for p in range(start - 1, len(token_ids) - 1))
        if not logit_rows:
            continue
        indices = torch.tensor(logit_rows, device=device)
        logits = model(rows.to(device), logits_indices=indices)
        logprobs = logits.float().log_softmax(dim=-1)
        targets = torch.tensor(
            [t for i in batch for t in requests[i][0][requests[i][1] :]], device=device
        )
        chosen = logprobs.gather(1, targets[:, None])[:, 0]
        greedy = (logprobs.argmax(dim=-1) == targets).tolist()
        top_values, top_ids = logprobs.topk(top, dim=-1) if top else (None, None)
        chosen_list = chosen.tolist()
        top_pairs = (
            [
                list(zip(i, v, strict=True))
                for i, v in zip(top_ids.tolist(), top_values.tolist(), strict=True)
            ]
            if top_ids is not None and top_values is not None
            else None
        )
        cursor = 0
        for index in batch:
            token_ids, start = requests[index]
            for token in token_ids[start:]:
                results[index].append(
                    ScoredToken(
                        token,
                        chosen_list[cursor],
                        bool(greedy[cursor]),
                        top_pairs[cursor] if top_pairs is not None else [],
                    )
                )
                cursor += 1
    return results
