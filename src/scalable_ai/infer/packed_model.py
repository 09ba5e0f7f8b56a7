"""A decode-friendly view of a dense ``Transformer``'s weights, for the runner's forward pass.

On a CPU a decode step is bound by reading weights and by per-operator overhead, not by
arithmetic. Two changes cut both without touching the model's definition:
- the query, key and value projections become one ``(Hq + 2 Hkv) * D`` x ``dim`` matrix, and
  the SwiGLU gate and up projections one ``2 * hidden`` x ``dim`` matrix, so each layer runs
  4 matrix products instead of 7 (the same fusion vLLM's ``QKVParallelLinear`` and
  ``MergedColumnParallelLinear`` make);
- activations stay token-major ``(T, heads, D)``, so RoPE rotates queries and keys in one
  go and no head transposes are needed around attention.

A third change is for single-stream decode (one token in the step): torch's bf16
matrix-*vector* product on this course's AMD CPUs runs at about half the speed of its f16 one
(measured 2026-11-26: a whole SmolLM2-135M decode step 44 ms vs 25 ms of CPU time), while its
f16 matrix-*matrix* product is several times slower than bf16's. So a bf16 model keeps f16
copies of its matrices and uses them only when a step has a single token; f16 keeps more
mantissa bits than bf16 (10 vs 7), so this loses no precision on the weights (llama.cpp runs
F16 the same way). Activations stay bf16 between the products. Steps with more tokens use
bf16 matrices prepacked for oneDNN, which gives the same numbers as ``F.linear`` faster.

The packed matrices are built from the model's own parameters (the seam's documented module
layout) and rebuilt by :meth:`PackedTransformer.repack` after weights change. Models the pack
does not cover (Mixture of Experts, sliding windows, interleaved RoPE) run the model's own
``forward`` with the paged backend instead; ``supports`` says which.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn


class TokenMajorAttention(Protocol):
    def attend_tokens(
        self, layer_index: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
    ) -> torch.Tensor: ...


class LowRankTerms(Protocol):
    """LoRA adapters of a step (``lora.LoraSet``): terms added to one projection's output."""

    def add_to(self, module_name: str, x: torch.Tensor, out: torch.Tensor) -> None: ...


#: The projections the packed forward computes (LoRA adapters on others need the model's own).
PACKED_PROJECTIONS = re.compile(r"layers\.\d+\.(attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)")


@dataclass
class PackedLayer:
    attn_norm: torch.Tensor
    qkv: torch.Tensor
    o: torch.Tensor
    mlp_norm: torch.Tensor
    gate_up: torch.Tensor
    down: torch.Tensor


def supports(model: nn.Module) -> bool:
    """Dense, full-attention, half-split RoPE: the family's default (and SmolLM2's) shape."""
    config = model.config
    return (
        not config.n_experts
        and not config.sliding_window
        and not config.rope_interleaved
        and not config.recipe_switches()  # QK-norm, ReLU², soft-capping: the model's forward
        and all(hasattr(layer.mlp, "gate_proj") for layer in model.layers)
    )


class PackedTransformer:
    """Runs ``model``'s computation with fused projections, token-major (see module doc)."""

    def __init__(
        self, model: nn.Module, onednn: bool = False, half_for_single_token: bool = False
    ) -> None:
        """``onednn``: prepack bf16 matrices for oneDNN's product; ``half_for_single_token``:
        float16 copies for steps of one token (both: bf16 models on a CPU only; the forward
        path table in ``forward_paths`` decides)."""
        self.model = model
        weight = model.embed.weight
        on_cpu_bf16 = weight.dtype == torch.bfloat16 and weight.device.type == "cpu"
        if (onednn or half_for_single_token) and not on_cpu_bf16:
            raise ValueError("oneDNN and float16 copies are for bf16 models on a CPU")
        self.half_for_single_token = half_for_single_token
        self.half_layers: list[PackedLayer] = []
        self.half_lm_head: torch.Tensor | None = None
        self.use_onednn = onednn
        config = model.config
        self.n_heads, self.n_kv_heads = config.n_heads, config.n_kv_heads
        self.head_dim = config.head_size
        self.eps = config.norm_eps
        self.layers: list[PackedLayer] = []
        self.repack()

    @torch.no_grad()
    def repack(self) -> None:
        """(Re)build the fused matrices from the model's current parameters."""
        self.layers = [
            PackedLayer(
                attn_norm=layer.attn_norm.weight.detach(),
                qkv=torch.cat(
                    [layer.attn.q_proj.weight, layer.attn.k_proj.weight, layer.attn.v_proj.weight]
                )
                .detach()
                .contiguous(),
                o=layer.attn.o_proj.weight.detach(),
                mlp_norm=layer.mlp_norm.weight.detach(),
                gate_up=torch.cat([layer.mlp.gate_proj.weight, layer.mlp.up_proj.weight])
                .detach()
                .contiguous(),
                down=layer.mlp.down_proj.weight.detach(),
            )
            for layer in self.model.layers
        ]
        if self.half_for_single_token:
            self.half_layers = [
                PackedLayer(*(t.to(torch.float16) for t in vars(layer).values()))
                for layer in self.layers
            ]
            self.half_lm_head = self.model.lm_head.weight.detach().to(torch.float16)
        self.lm_head = self.model.lm_head.weight.detach()
        if self.use_onednn:
            for layer in self.layers:
                for name in ("qkv", "o", "gate_up", "down"):
                    setattr(layer, name, _onednn_pack(getattr(layer, name)))
            self.lm_head = _onednn_pack(self.lm_head)

    def rope_tables(self, positions: torch.Tensor, dtype: torch.dtype) -> tuple:
        """cos and sin, (T, 1, D/2), from the model's own (possibly scaled) frequencies."""
        angles = positions[:, None].float() * self.model.rotary.inv_freq
        return angles.cos().to(dtype)[:, None], angles.sin().to(dtype)[:, None]

    @torch.inference_mode()
    def forward(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor,
        backend: TokenMajorAttention,
        logits_indices: torch.Tensor,
        lora: LowRankTerms | None = None,
    ) -> torch.Tensor:
        """Logits (N, vocab) at ``logits_indices`` of the flat step (T tokens); ``lora``
        adds its adapters' terms to each projection's slice of the fused products."""
        model = self.model
        tokens = input_ids.shape[0]
        hq, hkv, d = self.n_heads, self.n_kv_heads, self.head_dim
        rotary_half = d // 2
        x = F.embedding(input_ids, model.embed.weight)
        cos, sin = self.rope_tables(positions, x.dtype)
        dim = (x.shape[-1],)
        half = tokens == 1 and self.half_for_single_token
        linear = _half_linear if half else _onednn_linear if self.use_onednn else F.linear
        layers = self.half_layers if half else self.layers
        for index, (layer, matrices) in enumerate(zip(self.layers, layers, strict=True)):
            h = F.rms_norm(x, dim, layer.attn_norm, self.eps)
            qkv = linear(h, matrices.qkv)
            if lora is not None:
                name = f"layers.{index}."
                lora.add_to(name + "attn.q_proj", h, qkv[:, : hq * d])
                lora.add_to(name + "attn.k_proj", h, qkv[:, hq * d : (hq + hkv) * d])
                lora.add_to(name + "attn.v_proj", h, qkv[:, (hq + hkv) * d :])
            qk = qkv[:, : (hq + hkv) * d].view(tokens, hq + hkv, d)
            first, second = qk[..., :rotary_half], qk[..., rotary_half:]
            qk = torch.cat((first * cos - second * sin, second * cos + first * sin), dim=-1)
            v = qkv[:, (hq + hkv) * d :].view(tokens, hkv, d)
            out = backend.attend_tokens(index, qk[:, :hq], qk[:, hq:], v).reshape(tokens, hq * d)
            projected = linear(out, matrices.o)
            if lora is not None:
                lora.add_to(name + "attn.o_proj", out, projected)
            x = x + projected
            h = F.rms_norm(x, dim, layer.mlp_norm, self.eps)
            gate_up = linear(h, matrices.gate_up)
            if lora is not None:
                hidden = gate_up.shape[-1] // 2
                lora.add_to(name + "mlp.gate_proj", h, gate_up[:, :hidden])
                lora.add_to(name + "mlp.up_proj", h, gate_up[:, hidden:])
            gate, up = gate_up.chunk(2, dim=-1)
            inner = F.silu(gate) * up
            projected = linear(inner, matrices.down)
            if lora is not None:
                lora.add_to(name + "mlp.down_proj", inner, projected)
            x = x + projected
        x = model.norm(x.index_select(0, logits_indices))
        if half and self.half_lm_head is not None:
            return _half_linear(x, self.half_lm_head)
        return linear(x, self.lm_head)


def _half_linear(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``x @ weight.T`` through torch's f16 matrix-vector kernel, in and out in x's dtype."""
    return F.linear(x.to(torch.float16), weight).to(x.dtype)


@functools.cache
def onednn_bf16_available() -> bool:
    """Whether this torch has oneDNN (mkldnn) and its prepacked bf16 product runs here."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        probe = torch.ones(8, 8, dtype=torch.bfloat16)
        _onednn_linear(torch.ones(1, 8, dtype=torch.bfloat16), _onednn_pack(probe))
    except (RuntimeError, AttributeError):
        return False
    return True


def _onednn_pack(weight: torch.Tensor) -> torch.Tensor:
    """The weight reordered once into oneDNN's blocked layout (as torch.compile's CPU
    "freezing" does); the product is the same bf16 arithmetic, ~1.7x faster here for 1-16
    rows (2026-11-26: 1536x576, 16 rows, 200 us instead of 347 us of CPU time)."""
    return torch.ops.mkldnn._reorder_linear_weight(weight.contiguous(), 16)


def _onednn_linear(x: torch.Tensor, packed: torch.Tensor) -> torch.Tensor:
    return torch.ops.mkldnn._linear_pointwise(x.contiguous(), packed, None, "none", [], "")
