"""Sliding-window attention (Longformer 2020; Mistral 7B 2023) against a naive masked reference."""

from __future__ import annotations

import pytest
import torch

from scalable_ai.model.attention import causal_attention, sliding_window_attention
from scalable_ai.model.transformer import Transformer
from tests.model.seam import ConcatenatingCache


def _naive(q, k, v, window):
    """Full T×T scores, mask out keys in the future or more than window-1 back, softmax."""
    groups = q.shape[1] // k.shape[1]
    k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    length = q.shape[-2]
    distance = torch.arange(length)[:, None] - torch.arange(length)[None, :]
    allowed = (distance >= 0) & (distance < window)
    scores = (q @ k.transpose(-1, -2)) / q.shape[-1] ** 0.5
    return scores.masked_fill(~allowed, float("-inf")).softmax(-1) @ v


def _qkv(length, dtype=torch.float64, requires_grad=False, batch=2, head_dim=8):
    torch.manual_seed(0)
    shapes = (
        (batch, 4, length, head_dim),
        (batch, 2, length, head_dim),
        (batch, 2, length, head_dim),
    )
    return [torch.randn(s, dtype=dtype, requires_grad=requires_grad) for s in shapes]


def test_window_at_least_the_sequence_equals_full_causal_attention():
    q, k, v = _qkv(10)
    torch.testing.assert_close(sliding_window_attention(q, k, v, 10), causal_attention(q, k, v))
    torch.testing.assert_close(sliding_window_attention(q, k, v, 64), causal_attention(q, k, v))


@pytest.mark.parametrize("length,window", [(10, 6), (10, 3), (37, 5), (40, 8)])
def test_smaller_window_equals_the_naive_mask_and_differs_from_full(length, window):
    """(37, 5) and (40, 8) run the blocked O(T·W) path, the others one masked call."""
    q, k, v = _qkv(length)
    windowed = sliding_window_attention(q, k, v, window)
    torch.testing.assert_close(windowed, _naive(q, k, v, window))
    assert not torch.allclose(windowed, causal_attention(q, k, v))


def test_sliding_window_gradients_match_finite_differences():
    q, k, v = _qkv(7, requires_grad=True, batch=1, head_dim=4)  # 7 > 2*3: the blocked path
    assert torch.autograd.gradcheck(lambda a, b, c: sliding_window_attention(a, b, c, 3), (q, k, v))


def test_windowed_model_decodes_through_the_cache_like_its_full_forward(make_tiny_config):
    torch.manual_seed(0)
    model = Transformer(make_tiny_config(sliding_window=4)).double().eval()
    ids = torch.randint(0, 64, (1, 13))
    full = model(ids)
    cache = ConcatenatingCache(model.config.n_layers, window=4)
    steps = [model(ids[:, :6], backend=cache)]
    for position in range(6, 13):
        steps.append(
            model(
                ids[:, position : position + 1], positions=torch.tensor([[position]]), backend=cache
            )
        )
    torch.testing.assert_close(torch.cat(steps, 1), full)
    full.sum().backward()
    assert model.layers[0].attn.q_proj.weight.grad is not None
