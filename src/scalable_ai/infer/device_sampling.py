"""Temperature, top-k, top-p and min-p sampling where the logits are (a GPU), in one pass.

The host sampler (``sampling.py``) is tuned for a CPU: NumPy, candidates before sorting,
one row at a time. On a GPU the logits would first have to cross to the host: (256, 49152)
float32 is 50 MB per step, milliseconds of PCIe. Here every row is handled at once with
tensor operations on the logits' own device, in the processors' usual order (temperature,
top-k, top-p over the top-k renormalized, min-p against the best token; see ``sampling.py``):
sort each row, mask what the filters drop, take the cumulative sum of what is left in
float64, and pick by inverse CDF at one uniform number per row. The uniforms come from the
same per-sequence generators as on the host, so a seeded request repeats itself; the token
a given uniform picks differs from the host sampler's (it walks the CDF best token first,
the host in token order), the distribution does not.

Rows that need penalties, log-probabilities, ``min_tokens`` bans, a logit bias or a grammar
stay with the host sampler (:func:`samples_on_device` says which steps can stay here).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from scalable_ai.infer.sequence import TokenSequence


def samples_on_device(seqs: Sequence[TokenSequence]) -> bool:
    """Every row needs only temperature, top-k, top-p and min-p (or is greedy)."""
    for seq in seqs:
        params = seq.params
        if params.logprobs is not None or params.has_penalties or params.shapes_logits:
            return False
        if len(seq.output_token_ids) < params.min_tokens:
            return False
    return True


@torch.inference_mode()
def sample_on_device(
    logits: torch.Tensor, seqs: Sequence[TokenSequence], uniforms: torch.Tensor
) -> list[int]:
    """One token per row of ``logits`` (N, V), row i by ``seqs[i].params``; ``uniforms``
    (N,) float64 in [0, 1) on the host. Greedy rows (temperature 0) take the argmax."""
    device = logits.device
    params = [seq.params for seq in seqs]
    rows, vocab = logits.shape
    greedy = torch.tensor([p.greedy for p in params], device=device)
    temperature = torch.tensor([p.temperature or 1.0 for p in params], device=device)
    top_k = torch.tensor([p.top_k if p.top_k > 0 else vocab for p in params], device=device)
    top_p = torch.tensor([p.top_p for p in params], device=device)
    min_p = torch.tensor([p.min_p for p in params], device=device)
    scaled = logits.float() / temperature[:, None]
    ordered, order = scaled.sort(dim=-1, descending=True, stable=True)  # ties: lowest id
    rank = torch.arange(vocab, device=device)
    drop = rank[None, :] >= top_k[:, None]
    probs = ordered.masked_fill(drop, float("-inf")).softmax(dim=-1)  # top-k renormalized
    before = probs.cumsum(dim=-1) - probs  # mass of the strictly better tokens
    drop |= before > top_p[:, None]
    drop |= probs < min_p[:, None] * probs[:, :1]
    drop[:, 0] = False  # the best token always survives
    cdf = probs.masked_fill(drop, 0.0).double().cumsum(dim=-1)
    total = cdf[:, -1]
    target = uniforms.to(device=device, dtype=torch.float64) * total
    index = torch.searchsorted(cdf, target[:, None], right=True).clamp_(max=vocab - 1)
    # A target at the very end may land past the last kept token: step back onto it.
    kept = (~drop).sum(dim=-1, keepdim=True)
    index = torch.minimum(index, kept - 1)
    drawn = order.gather(1, index).squeeze(1)
    tokens = torch.where(greedy, order[:, 0], drawn)
    broken = ~torch.isfinite(total) | (total <= 0)
    result = torch.cat([tokens, broken.long()]).tolist()
    if any(result[rows:]):
        raise RuntimeError("sampling weights must be finite and not all zero (NaN logits?)")
    return result[:rows]
