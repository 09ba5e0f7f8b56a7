"""The simplest attention backend for the model's inference seam, for the model's own tests.

Keys and values of earlier steps are kept by concatenation, and each step's queries attend
with an explicit (causal, optionally windowed) mask built from absolute positions: written
for obviousness, not speed. The product's backend is the engine's paged cache
(``infer/runner.PagedAttentionBackend``), tested in ``tests/infer``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class ConcatenatingCache:
    """``Transformer.forward(..., backend=...)`` for sequences of equal length."""

    def __init__(self, n_layers: int, window: int = 0) -> None:
        self.keys: list[torch.Tensor | None] = [None] * n_layers
        self.values: list[torch.Tensor | None] = [None] * n_layers
        self.window = window

    def attend(
        self, layer_index: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
    ) -> torch.Tensor:
        old_k, old_v = self.keys[layer_index], self.values[layer_index]
        keys = k if old_k is None else torch.cat([old_k, k], dim=2)
        values = v if old_v is None else torch.cat([old_v, v], dim=2)
        self.keys[layer_index], self.values[layer_index] = keys, values
        length, new = keys.shape[2], q.shape[2]
        distance = torch.arange(length - new, length)[:, None] - torch.arange(length)
        visible = distance >= 0
        if self.window:
            visible &= distance < self.window
        groups = q.shape[1] // keys.shape[1]
        keys, values = keys.repeat_interleave(groups, 1), values.repeat_interleave(groups, 1)
        return F.scaled_dot_product_attention(q, keys, values, attn_mask=visible)
