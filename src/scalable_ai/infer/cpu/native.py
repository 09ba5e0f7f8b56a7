"""``NativeForward``: a dense bf16 ``Transformer`` plus its paged KV cache, run by ``forward.c``.

The model's parameters are read through the same documented module layout the packed
PyTorch forward uses (``layers[i].attn.{q,k,v,o}_proj``, ``mlp.{gate,up,down}_proj``, the
norms, ``embed``, ``lm_head``, ``rotary.inv_freq``), fused (QKV; gate and up) and packed into
the kernel's panel layout once; :meth:`NativeForward.repack` rebuilds them after the weights
change in place. The KV cache stays the engine's own tensors: the kernel writes and reads
them through their data pointers, so the scheduler's block accounting is unchanged.
"""

from __future__ import annotations

import ctypes

import numpy as np
import torch
from torch import nn

from scalable_ai.infer.cpu import load_library, pack_weight, qpack
from scalable_ai.infer.kv_cache import KVCache
from scalable_ai.infer.quant import BLOCK, QuantizedLinear

#: (bits, group) of a bf16 product, which forward.c multiplies in its panel layout
BF16 = (0, 0)


def supports(model: nn.Module) -> bool:
    """bf16 weights on the CPU (the engine's cache takes the weights' dtype and device),
    dense SwiGLU layers without biases."""
    config = model.config
    weight = model.embed.weight
    if weight.dtype != torch.bfloat16 or weight.device.type != "cpu":
        return False
    if config.n_experts or config.n_heads % config.n_kv_heads:
        return False
    for layer in model.layers:
        if not hasattr(layer.mlp, "gate_proj"):
            return False
        linears = [
            layer.attn.q_proj,
            layer.attn.k_proj,
            layer.attn.v_proj,
            layer.attn.o_proj,
            layer.mlp.gate_proj,
            layer.mlp.up_proj,
            layer.mlp.down_proj,
        ]
        if any(getattr(linear, "bias", None) is not None for linear in linears):
            return False
    # QK-norm, ReLU² and soft-capping are not in forward.c: those models take another path.
    return not config.recipe_switches()


class NativeForward:
    """One model handle in ``forward.c`` (weights, cache pointers, a thread pool)."""

    def __init__(
        self,
        model: nn.Module,
        cache: KVCache,
        threads: int | None = None,
        lib: ctypes.CDLL | None = None,
    ) -> None:
        lib = lib or load_library()
        if lib is None:
            raise RuntimeError("the native CPU forward is not available on this machine")
        self.lib = lib
        self.model = model
        self.cache = cache
        self.threads = threads or torch.get_num_threads()
        self.vocab = model.config.vocab_size
        self.handle: int | None = None
        self.repack()

    @torch.no_grad()
    def repack(self) -> None:
        """(Re)build the fused, packed weights from the model's current parameters."""
        self.close()
        model, config = self.model, self.model.config
        f32 = lambda t: t.detach().float().contiguous()  # noqa: E731
        quantized: list[tuple[tuple[int, int], torch.Tensor | None]] = []
        embed = model.embed.weight.detach().contiguous()

        def product(*linears: nn.Module) -> torch.Tensor:
            """One fused product's weights: quantized codes go to ``quantized`` (forward.c
            then reads them), bf16 weights are packed into panels here."""
            form, packed = self._quantized(linears)
            quantized.append((form, packed))
            if packed is not None:
                return embed  # a placeholder pointer: the bf16 slot is never read
            return pack_weight(torch.cat([linear.weight for linear in linears]), self.lib)

        keep: list[torch.Tensor] = [embed, product(model.lm_head)]
        head = quantized.pop()
        keep += [f32(model.norm.weight), f32(model.rotary.inv_freq)]
        for layer in model.layers:
            attn, mlp = layer.attn, layer.mlp
            keep += [
                f32(layer.attn_norm.weight),
                product(attn.q_proj, attn.k_proj, attn.v_proj),
                product(attn.o_proj),
                f32(layer.mlp_norm.weight),
                product(mlp.gate_proj, mlp.up_proj),
                product(mlp.down_proj),
            ]
        quantized.append(head)
        for keys, values in zip(self.cache.keys, self.cache.values, strict=True):
            keep += [keys, values]
        self._keep = keep  # the C side holds raw pointers into these tensors
        ints = (ctypes.c_int64 * 9)(
            config.n_layers,
            config.dim,
            config.n_heads,
            config.n_kv_heads,
            config.head_size,
            config.ffn_hidden,
            config.vocab_size,
            config.sliding_window,
            int(config.rope_interleaved),
        )
        floats = (ctypes.c_float * 1)(config.norm_eps)
        pointers = (ctypes.c_void_p * len(keep))(*(t.data_ptr() for t in keep))
        self.handle = self.lib.sai_model_new(ints, floats, pointers, self.threads)
        if any(packed is not None for _, packed in quantized):
            self._keep_quantized = [packed for _, packed in quantized if packed is not None]
            desc = (ctypes.c_int64 * (2 * len(quantized)))(*(v for f, _ in quantized for v in f))
            data = (ctypes.c_void_p * len(quantized))(
                *(packed.data_ptr() if packed is not None else None for _, packed in quantized)
            )
            self.lib.sai_model_quantize(self.handle, desc, data)

    def _quantized(
        self, linears: tuple[nn.Module, ...]
    ) -> tuple[tuple[int, int], torch.Tensor | None]:
        """((bits, group), packed codes) for a product whose layers are all quantized alike
        with groups of whole activation blocks; (BF16, None) otherwise (dequantized)."""
        if not all(isinstance(linear, QuantizedLinear) for linear in linears):
            return BF16, None
        weights = [linear.quantized for linear in linears]
        forms = {(w.bits, w.group_size) for w in weights}
        bits, group = next(iter(forms))
        if len(forms) > 1 or group % BLOCK:
            return BF16, None
        packed = qpack(
            torch.cat([w.codes for w in weights]),
            torch.cat([w.scales for w in weights]),
            torch.cat([w.offsets for w in weights]),
            bits,
            self.lib,
        )
        return (bits, group), packed

    def close(self) -> None:
        if getattr(self, "handle", None):
            self.lib.sai_model_free(self.handle)
            self.handle = None

    def __del__(self) -> None:
        self.close()

    def forward_flat(self, flat: list[int], tokens: int, n_logits: int, width: int) -> torch.Tensor:
        """Logits (n_logits, vocab) f32 for a step of T = ``tokens`` tokens, its inputs as one
        int list: the T token ids, T positions, T cache slots, T table rows (the row of the
        block tables that holds each token's blocks), the ``n_logits`` rows to compute logits
        for, then the block tables row by row (``width`` each). One NumPy array and pointers
        into it: right after a forward has streamed the weights through the caches, each torch
        call costs 10-40 us, and a 16-row decode step made six of them as tensors (216 -> 156
        us per step, measured 2026-11-26)."""
        buffer = np.array(flat, dtype=np.int64)
        base = buffer.ctypes.data
        logits = torch.empty(n_logits, self.vocab, dtype=torch.float32)
        status = self.lib.sai_forward(
            self.handle,
            tokens,
            base,
            base + 8 * tokens,
            base + 16 * tokens,
            base + 24 * tokens,
            base + 8 * (4 * tokens + n_logits),
            width,
            self.cache.spec.block_size,
            n_logits,
            base + 32 * tokens,
            logits.data_ptr(),
        )
        if status != 0:
            raise RuntimeError(f"native forward failed with status {status}")
        return logits
