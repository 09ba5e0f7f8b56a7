"""The course's decoder-only transformer: a Llama-style model in one readable file.

Pre-norm residual blocks (RMSNorm, Zhang & Sennrich 2019), rotary position embeddings
(RoPE, Su et al. 2021) with a configurable base and context scaling, grouped-query
attention (Ainslie et al. 2023) through ``F.scaled_dot_product_attention``, a SwiGLU
feed-forward (Shazeer 2020) or a Mixture of Experts (``moe.py``), optionally sliding-window
attention (``attention.py``), and tied or untied input/output embeddings. The pre-training
recipe switches of ``ModelConfig`` (QK-norm, the ReLU² feed-forward, logit soft-capping)
add modules or one line each here and nothing when off.

The seam the inference engine builds on (kept stable)
------------------------------------------------------
``Transformer.forward(input_ids, positions=None, backend=None, logits_indices=None)``

- ``input_ids``: LongTensor (B, T), the new tokens of this step.
- ``positions``: LongTensor (B, T), each token's absolute position; it drives RoPE and
  defaults to ``arange(T)`` per row.
- ``backend``: ``None`` means plain causal (or sliding-window) attention among the T given
  tokens, the training path. Otherwise every attention layer calls
  ``backend.attend(layer_index, q, k, v)`` with q (B, Hq, T, D) and k, v (B, Hkv, T, D),
  RoPE already applied, for the new tokens only; the backend stores k and v wherever it
  keeps its cache and returns the attention output (B, Hq, T, D) over cached plus new keys.
  The inference engine's paged cache (``infer/runner.PagedAttentionBackend``) is one.
- ``logits_indices``: LongTensor of flat indices into the B*T positions. When given, the
  final norm and the LM head run only there and the result is (N, vocab) instead of
  (B, T, vocab). Prefill needs the last token's logits only, and the 49152-row head is the
  single biggest matrix of a small model.

Module layout others may rely on: ``model.config``, ``model.embed``, ``model.layers[i]``
with ``.attn_norm``, ``.attn`` (``.q_proj``, ``.k_proj``, ``.v_proj``, ``.o_proj``),
``.mlp_norm``, ``.mlp`` (with ``config.qk_norm`` also ``.attn.q_norm``/``.attn.k_norm``;
with ``mlp_activation="relu2"`` the mlp has ``.up_proj``/``.down_proj`` and no ``.gate_proj``);
then ``model.norm`` and ``model.lm_head`` (the same Parameter as
``model.embed.weight`` when ``config.tie_embeddings``). Weights follow the Hugging Face
Llama layout (RoPE rotates dimension ``i`` with ``i + D/2``), so ``load_state_dict`` swaps
weights in place.

This file is the training path and the float reference. Fast inference (fused and packed
weights, the native C forward, CUDA graphs) lives in ``scalable_ai.infer``, which reads this
module layout and is checked against this forward path by path
(``tests/infer/test_product_paths.py``).
"""

from __future__ import annotations

import math
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from scalable_ai.model.attention import causal_attention, sliding_window_attention
from scalable_ai.model.config import ModelConfig
from scalable_ai.model.moe import MixtureOfExperts


class AttentionBackend(Protocol):
    """Where keys and values of earlier steps live during inference (see module docstring)."""

    def attend(
        self, layer_index: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
    ) -> torch.Tensor: ...


class RMSNorm(nn.Module):
    """Root-mean-square norm: scale by 1/rms(x), then by a learned gain (no mean, no bias)."""

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.rms_norm(x, (x.shape[-1],), self.weight, self.eps)


def rope_frequencies(config: ModelConfig) -> torch.Tensor:
    """Inverse frequencies theta^(-2i/D) for i < D/2, after the configured context scaling.

    ``linear`` divides every frequency by the factor (position interpolation, Chen et al.
    2023). ``llama3`` divides only the low frequencies (wavelengths longer than the original
    context / low_freq_factor), keeps the high ones, and blends in between (Llama 3, 2024).
    """
    dim = config.head_size
    inv_freq = 1.0 / (config.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    factor = config.rope_scaling_factor
    if config.rope_scaling == "linear":
        inv_freq = inv_freq / factor
    elif config.rope_scaling == "llama3":
        original = config.rope_original_max_seq_len
        low_wavelength = original / config.rope_low_freq_factor
        high_wavelength = original / config.rope_high_freq_factor
        wavelength = 2 * math.pi / inv_freq
        smooth = (original / wavelength - config.rope_low_freq_factor) / (
            config.rope_high_freq_factor - config.rope_low_freq_factor
        )
        blended = (1 - smooth) * inv_freq / factor + smooth * inv_freq
        scaled = torch.where(wavelength > low_wavelength, inv_freq / factor, blended)
        inv_freq = torch.where(wavelength < high_wavelength, inv_freq, scaled)
    return inv_freq.float()


class RotaryEmbedding(nn.Module):
    """Turns positions into the (cos, sin) pair every layer rotates its queries and keys by."""

    inv_freq: torch.Tensor

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.interleaved = config.rope_interleaved
        self.register_buffer("inv_freq", rope_frequencies(config), persistent=False)

    def forward(
        self, positions: torch.Tensor, dtype: torch.dtype
    ) -> tuple[torch.Tensor, torch.Tensor]:
        # Angles in f32 whatever the model dtype: position * frequency loses digits in bf16.
        angles = positions[:, None, :, None].float() * self.inv_freq  # (B, 1, T, D/2)
        return angles.cos().to(dtype), angles.sin().to(dtype)

    def rotate(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        """Rotate each pair of dimensions of x (B, H, T, D) by its position's angle."""
        if self.interleaved:
            even, odd = x[..., 0::2], x[..., 1::2]
            return torch.stack((even * cos - odd * sin, even * sin + odd * cos), -1).flatten(-2)
        first, second = x.chunk(2, dim=-1)
        return torch.cat((first * cos - second * sin, second * cos + first * sin), dim=-1)


class Attention(nn.Module):
    """Grouped-query self-attention: Hq query heads share Hkv key/value heads."""

    def __init__(self, config: ModelConfig, layer_index: int) -> None:
        super().__init__()
        self.layer_index = layer_index
        self.n_heads, self.n_kv_heads = config.n_heads, config.n_kv_heads
        self.head_dim = config.head_size
        self.sliding_window = config.sliding_window
        self.causal = config.causal
        self.q_proj = nn.Linear(config.dim, self.n_heads * self.head_dim, bias=False)
        self.k_proj = nn.Linear(config.dim, self.n_kv_heads * self.head_dim, bias=False)
        self.v_proj = nn.Linear(config.dim, self.n_kv_heads * self.head_dim, bias=False)
        self.o_proj = nn.Linear(self.n_heads * self.head_dim, config.dim, bias=False)
        # QK-norm: one gain vector per head dimension, shared by the heads (as Qwen3, OLMo 2).
        self.q_norm = RMSNorm(self.head_dim, config.norm_eps) if config.qk_norm else None
        self.k_norm = RMSNorm(self.head_dim, config.norm_eps) if config.qk_norm else None

    def forward(
        self,
        x: torch.Tensor,
        rotary: RotaryEmbedding,
        cos: torch.Tensor,
        sin: torch.Tensor,
        backend: AttentionBackend | None,
    ) -> torch.Tensor:
        batch, length, _ = x.shape
        q = self.q_proj(x).view(batch, length, self.n_heads, self.head_dim)
        k = self.k_proj(x).view(batch, length, self.n_kv_heads, self.head_dim)
        v = self.v_proj(x).view(batch, length, self.n_kv_heads, self.head_dim)
        if self.q_norm is not None and self.k_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        q, k = rotary.rotate(q, cos, sin), rotary.rotate(k, cos, sin)
        if backend is not None:
            out = backend.attend(self.layer_index, q, k, v)
        elif self.sliding_window:
            out = sliding_window_attention(q, k, v, self.sliding_window)
        elif not self.causal:  # a masked diffusion denoiser sees the whole sequence
            out = F.scaled_dot_product_attention(q, k, v, enable_gqa=q.shape[1] != k.shape[1])
        else:
            out = causal_attention(q, k, v)
        return self.o_proj(out.transpose(1, 2).reshape(batch, length, -1))


class SwiGLU(nn.Module):
    """Feed-forward ``down(silu(gate(x)) * up(x))`` (Shazeer 2020, GLU variants)."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class ReluSquared(nn.Module):
    """Ungated feed-forward ``down(relu(up(x))^2)`` (So et al. 2021, "Primer"; Nemotron-4 and
    modded-nanogpt): two matrices instead of SwiGLU's three, and sparse activations."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.relu(self.up_proj(x)).square())


def feed_forward(config: ModelConfig) -> nn.Module:
    """The feed-forward the config names: experts, ReLU² or SwiGLU."""
    if config.n_experts:
        return MixtureOfExperts(config)
    if config.mlp_activation == "relu2":
        return ReluSquared(config.dim, config.ffn_hidden)
    return SwiGLU(config.dim, config.ffn_hidden)


class Block(nn.Module):
    """One pre-norm residual block: x + attn(norm(x)), then + mlp(norm(x))."""

    def __init__(self, config: ModelConfig, layer_index: int) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(config.dim, config.norm_eps)
        self.attn = Attention(config, layer_index)
        self.mlp_norm = RMSNorm(config.dim, config.norm_eps)
        self.mlp = feed_forward(config)

    def forward(
        self,
        x: torch.Tensor,
        rotary: RotaryEmbedding,
        cos: torch.Tensor,
        sin: torch.Tensor,
        backend: AttentionBackend | None,
    ) -> torch.Tensor:
        x = x + self.attn(self.attn_norm(x), rotary, cos, sin, backend)
        return x + self.mlp(self.mlp_norm(x))


class Transformer(nn.Module):
    """Token ids in, next-token logits out. See the module docstring for the seam."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.dim)
        self.rotary = RotaryEmbedding(config)
        self.layers = nn.ModuleList(Block(config, i) for i in range(config.n_layers))
        self.norm = RMSNorm(config.dim, config.norm_eps)
        self.lm_head = nn.Linear(config.dim, config.vocab_size, bias=False)
        if config.tie_embeddings:
            self.lm_head.weight = self.embed.weight
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Normal(0, init_std) for every matrix, ones for norm gains; output projections of
        each residual branch shrunk by 1/sqrt(2 n_layers) (GPT-2) so the residual stream's
        variance does not grow with depth."""
        std = self.config.init_std
        for name, parameter in self.named_parameters():
            if parameter.dim() == 1:
                parameter.fill_(1.0)
            elif name.endswith(("o_proj.weight", "down_proj.weight", "down_weight")):
                parameter.normal_(0.0, std / math.sqrt(2 * self.config.n_layers))
            else:
                parameter.normal_(0.0, std)

    def forward(
        self,
        input_ids: torch.Tensor,
        positions: torch.Tensor | None = None,
        backend: AttentionBackend | None = None,
        logits_indices: torch.Tensor | None = None,
    ) -> torch.Tensor:
        batch, length = input_ids.shape
        if positions is None:
            positions = torch.arange(length, device=input_ids.device).expand(batch, length)
        x = self.embed(input_ids)
        cos, sin = self.rotary(positions, x.dtype)
        for layer in self.layers:
            x = layer(x, self.rotary, cos, sin, backend)
        if logits_indices is not None:
            x = x.reshape(batch * length, -1).index_select(0, logits_indices)
        logits = self.lm_head(self.norm(x))
        if self.config.logit_softcap:
            # Gemma 2 / modded-nanogpt: a smooth clamp to (-cap, cap), linear near zero.
            cap = self.config.logit_softcap
            logits = cap * torch.tanh(logits / cap)
        return logits

    def aux_loss(self) -> torch.Tensor:
        """Sum of the MoE load-balancing losses of the last forward (0 for a dense model),
        already weighted by ``config.moe_aux_loss_weight``."""
        losses = [
            layer.mlp.aux_loss
            for layer in self.layers
            if isinstance(layer.mlp, MixtureOfExperts) and layer.mlp.aux_loss is not None
        ]
        if not losses:
            return torch.zeros((), device=self.embed.weight.device)
        return self.config.moe_aux_loss_weight * torch.stack(losses).sum()

    def loss(
        self, input_ids: torch.Tensor, targets: torch.Tensor, ignore_index: int = -100
    ) -> torch.Tensor:
        """Mean next-token cross-entropy over targets != ignore_index, plus the MoE aux loss."""
        logits = self(input_ids)
        cross_entropy = F.cross_entropy(
            logits.float().flatten(0, 1), targets.flatten(), ignore_index=ignore_index
        )
        return cross_entropy + self.aux_loss()
