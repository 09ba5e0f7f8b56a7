"""Attention over the tokens of one forward pass: full causal, or a sliding window.

Sliding-window attention (Beltagy et al., Longformer 2020; Mistral 7B 2023) lets query ``i``
see keys ``i - W + 1 .. i`` only. Memory and compute per query are then O(W), not O(T),
which is what makes long contexts affordable: for ``T`` much larger than ``W`` we never build
the T×T mask. Instead queries go in blocks of ``W``; block ``b`` needs keys from the start of
block ``b - 1`` to the end of block ``b`` only, so each block is one small masked
``scaled_dot_product_attention`` call over at most ``2W`` keys (O(T·W) in all).

Shapes follow ``F.scaled_dot_product_attention``: q is (B, Hq, T, D), k and v are
(B, Hkv, T, D) with ``Hq`` a multiple of ``Hkv`` (grouped-query attention, Ainslie et al. 2023).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Plain causal attention over the same T tokens for queries and keys."""
    return F.scaled_dot_product_attention(
        q, k, v, is_causal=q.shape[-2] > 1, enable_gqa=q.shape[1] != k.shape[1]
    )


def sliding_window_mask(
    query_positions: torch.Tensor, key_positions: torch.Tensor, window: int
) -> torch.Tensor:
    """Boolean (Tq, Tk) mask, True where query may attend: ``0 <= q - k < window``.

    ``window <= 0`` means no window: plain causal.
    """
    distance = query_positions[:, None] - key_positions[None, :]
    allowed = distance >= 0
    if window > 0:
        allowed &= distance < window
    return allowed


def sliding_window_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int
) -> torch.Tensor:
    """Causal attention where each query sees at most the last ``window`` keys (itself included).

    Equal to :func:`causal_attention` when ``window >= T``.
    """
    length = q.shape[-2]
    if window <= 0 or window >= length:
        return causal_attention(q, k, v)
    gqa = q.shape[1] != k.shape[1]
    if length <= 2 * window:
        positions = torch.arange(length, device=q.device)
        mask = sliding_window_mask(positions, positions, window)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, enable_gqa=gqa)
    outputs = []
    for start in range(0, length, window):
        end = min(start + window, length)
        key_start = max(0, start - window)
        query_positions = torch.arange(start, end, device=q.device)
        key_positions = torch.arange(key_start, end, device=q.device)
        mask = sliding_window_mask(query_positions, key_positions, window)
        outputs.append(
            F.scaled_dot_product_attention(
                q[..., start:end, :],
                k[..., key_start:end, :],
                v[..., key_start:end, :],
                attn_mask=mask,
                enable_gqa=gqa,
            )
        )
    return torch.cat(outputs, dim=-2)
