"""A dense model's decode step through the Triton kernels: nine kernels per layer.

Per layer: fused residual add + RMSNorm, the QKV product, RoPE with the cache write, paged
attention, the output product, add + RMSNorm, the gate/up product, SiLU-times-up, the down
product; the next layer's first norm is fused into this layer's last add. The matrix products
stay cuBLAS's (``F.linear`` on the packed model's fused matrices). The forward has the
token-major calling convention of ``PackedTransformer.forward`` and takes its per-step
metadata (slots, block tables, lengths) from the static backend that ``cuda_graphs`` builds,
so a graph captures it whole.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from scalable_ai.infer.kv_cache import KVCache
from scalable_ai.infer.packed_model import PackedTransformer


def supports(packed: PackedTransformer | None, cache: KVCache) -> bool:
    """The packed forward's models, with a power-of-two head size (a Triton block's width)."""
    if packed is None:
        return False
    head_dim = cache.spec.head_dim
    return (
        head_dim >= 16
        and head_dim & (head_dim - 1) == 0
        and cache.spec.dtype in (torch.float32, torch.bfloat16, torch.float16)
    )


class FusedDecode:
    """Callable as ``forward(input_ids, positions, backend, logits_indices)``: logits (N, V)."""

    def __init__(self, packed: PackedTransformer, cache: KVCache) -> None:
        self.packed = packed
        self.cache = cache

    @torch.inference_mode()
    def __call__(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor,
        backend,  # cuda_graphs.StaticDecodeAttention: slot_mapping, block_tables, lengths
        logits_indices: torch.Tensor,
    ) -> torch.Tensor:
        from scalable_ai.infer.gpu.kernels import (
            add_rms_norm,
            paged_decode_attention,
            rope_and_write_cache,
            silu_mul,
        )

        packed, cache = self.packed, self.cache
        model = packed.model
        eps = packed.eps
        layers = packed.layers
        inv_freq = model.rotary.inv_freq
        block_size = cache.spec.block_size
        tokens = input_ids.shape[0]
        x = F.embedding(input_ids, model.embed.weight)
        h = add_rms_norm(x, None, layers[0].attn_norm, eps)
        for index, layer in enumerate(layers):
            keys, values = cache.keys[index], cache.values[index]
            q = rope_and_write_cache(
                F.linear(h, layer.qkv),
                positions,
                backend.slot_mapping,
                inv_freq,
                keys,
                values,
                packed.n_heads,
            )
            attended = paged_decode_attention(
                q,
                keys,
                values,
                backend.block_tables,
                backend.lengths,
                block_size,
                backend.window,
            )
            h = add_rms_norm(x, F.linear(attended.view(tokens, -1), layer.o), layer.mlp_norm, eps)
            down = F.linear(silu_mul(F.linear(h, layer.gate_up)), layer.down)
            following = layers[index + 1].attn_norm if index + 1 < len(layers) else None
            h = add_rms_norm(x, down, model.norm.weight if following is None else following, eps)
        return F.linear(h.index_select(0, logits_indices), packed.lm_head)
