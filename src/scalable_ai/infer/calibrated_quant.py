"""Quantization that looks at activations: AWQ scaling and GPTQ error correction.

Both read the inputs each linear layer sees on calibration text (``calibration_tokens``:
documents of our own corpus, ``scalable_ai.data``, outside the held-out split perplexity is
measured on). The statistics come from one pass of the float model (not layer by layer
through the already quantized prefix, as the papers do: simpler, and a second-order effect).

- **AWQ** (Lin et al. 2024, "Activation-aware Weight Quantization"): input channels that
  carry large activations matter most, so scale them up before rounding and divide the
  activation by the same factor, which is folded into the preceding RMSNorm gain (for
  q/k/v and gate/up) or into ``up_proj``'s rows (for ``down_proj``). The scale is
  s = mean|x|^alpha, normalised, with alpha chosen per layer from a grid to minimise the
  output error on calibration rows. ``o_proj`` keeps s = 1 (its input comes from grouped
  value heads, which a per-channel fold cannot serve).
- **GPTQ** (Frantar et al. 2023): quantize one input column at a time and spread its
  rounding error over the columns not yet quantized, weighted by the inverse Hessian
  H = X^T X of the layer's inputs (the lazy-batch Cholesky form of the paper).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from scalable_ai.infer.quant import QuantizedWeight, QuantSpec, quantize_weight

#: Rows of each layer's input kept for AWQ's search (the Hessians use every row).
SAMPLE_ROWS = 512
ALPHAS = [i / 10 for i in range(11)]


class _InputStats:
    """Per-input-channel mean |x|, X^T X and a row sample of one layer input."""

    def __init__(self, width: int, hessian: bool) -> None:
        self.abs_sum = torch.zeros(width, dtype=torch.float64)
        self.hessian = torch.zeros(width, width, dtype=torch.float64) if hessian else None
        self.rows = 0
        self.sample: list[torch.Tensor] = []

    def add(self, x: torch.Tensor) -> None:
        x = x.detach().reshape(-1, x.shape[-1]).float()
        self.abs_sum += x.abs().sum(0).double()
        if self.hessian is not None:  # f32 products (float64 ones took minutes), f64 sums
            self.hessian += (x.T @ x).double()
        self.rows += x.shape[0]
        if sum(len(s) for s in self.sample) < SAMPLE_ROWS:
            self.sample.append(x[:SAMPLE_ROWS].float())

    @property
    def mean_abs(self) -> torch.Tensor:
        return (self.abs_sum / max(self.rows, 1)).float()

    @property
    def rows_sample(self) -> torch.Tensor:
        return torch.cat(self.sample)[:SAMPLE_ROWS]


#: Linears that read the same input, keyed by the first (whose input is recorded).
SHARED_INPUTS = {
    "attn.q_proj": ("attn.q_proj", "attn.k_proj", "attn.v_proj"),
    "attn.o_proj": ("attn.o_proj",),
    "mlp.gate_proj": ("mlp.gate_proj", "mlp.up_proj"),
    "mlp.down_proj": ("mlp.down_proj",),
}


@torch.no_grad()
def collect_inputs(
    model: nn.Module, calibration: Iterable[torch.Tensor], hessian: bool = False
) -> dict[str, _InputStats]:
    """Run the float model on each token row; statistics of every shared layer input
    (X^T X too for ``hessian``: GPTQ needs it, AWQ does not)."""
    stats: dict[str, _InputStats] = {}
    hooks = []
    for i, _ in enumerate(model.layers):
        for first in SHARED_INPUTS:
            name = f"layers.{i}.{first}"
            module = model.get_submodule(name)
            stats[name] = _InputStats(module.in_features, hessian)
            hooks.append(
                module.register_forward_pre_hook(lambda _, args, s=stats[name]: s.add(args[0]))
            )
    try:
        for row in calibration:
            model(row.reshape(1, -1).to(model.embed.weight.device))
    finally:
        for hook in hooks:
            hook.remove()
    return stats


def _fake_quantize(weight: torch.Tensor, spec: QuantSpec) -> torch.Tensor:
    return quantize_weight(weight, spec.bits, spec.group_size, spec.symmetric).dequantize()


@torch.no_grad()
def awq_rescale(model: nn.Module, calibration: list[torch.Tensor], spec: QuantSpec) -> None:
    """Fold AWQ's per-channel scales into the model, in place (it computes the same function
    in exact arithmetic); the caller then rounds to nearest."""
    stats = collect_inputs(model, calibration)
    for i, layer in enumerate(model.layers):
        for first, names in SHARED_INPUTS.items():
            if first == "attn.o_proj":
                continue
            linears = [layer.get_submodule(name) for name in names]
            s = _best_scale(linears, stats[f"layers.{i}.{first}"], spec)
            for linear in linears:
                linear.weight.mul_(s.to(linear.weight.dtype))
            if first == "attn.q_proj":
                layer.attn_norm.weight.div_(s.to(layer.attn_norm.weight.dtype))
            elif first == "mlp.gate_proj":
                layer.mlp_norm.weight.div_(s.to(layer.mlp_norm.weight.dtype))
            else:
                layer.mlp.up_proj.weight.div_(s[:, None].to(layer.mlp.up_proj.weight.dtype))


def _best_scale(linears: list[nn.Module], stats: _InputStats, spec: QuantSpec) -> torch.Tensor:
    """The per-input-channel scale (grid over alpha) with the smallest output error."""
    weight = torch.cat([linear.weight.float() for linear in linears])
    x = stats.rows_sample
    want = x @ weight.T
    magnitude = stats.mean_abs.clamp(min=1e-5)
    best, best_error = torch.ones_like(magnitude), float("inf")
    for alpha in ALPHAS:
        s = magnitude.pow(alpha)
        s = s / (s.max() * s.min()).sqrt()
        got = (x / s) @ _fake_quantize(weight * s, spec).T
        error = float((got - want).pow(2).mean())
        if error < best_error:
            best, best_error = s, error
    return best


@torch.no_grad()
def gptq_quantize(
    model: nn.Module, calibration: list[torch.Tensor], spec: QuantSpec, names: list[str]
) -> dict[str, QuantizedWeight]:
    """GPTQ codes for every linear in ``names`` (layers sharing an input share its Hessian
    and are solved as one stacked matrix)."""
    stats = collect_inputs(model, calibration, hessian=True)
    out: dict[str, QuantizedWeight] = {}
    for i, layer in enumerate(model.layers):
        for first, group in SHARED_INPUTS.items():
            wanted = [name for name in group if f"layers.{i}.{name}" in names]
            if not wanted:
                continue
            linears = [layer.get_submodule(name) for name in wanted]
            hessian = stats[f"layers.{i}.{first}"]
            stacked = torch.cat([linear.weight.float() for linear in linears])
            quantized = gptq_weight(stacked, hessian.hessian / max(hessian.rows, 1), spec)
            start = 0
            for name, linear in zip(wanted, linears, strict=True):
                rows = slice(start, start + linear.out_features)
                out[f"layers.{i}.{name}"] = QuantizedWeight(
                    quantized.codes[rows].contiguous(),
                    quantized.scales[rows].contiguous(),
                    quantized.offsets[rows].contiguous(),
                    spec.bits,
                )
                start += linear.out_features
    return out


def gptq_weight(
    weight: torch.Tensor, hessian: torch.Tensor, spec: QuantSpec, damp: float = 0.01
) -> QuantizedWeight:
    """One (N, K) weight by GPTQ (Algorithm 1 of the paper, lazy blocks of one group each;
    for per-channel int8 the row's scale is fixed from the original weight)."""
    n, k = weight.shape
    group = spec.group_size or k
    w = weight.double().clone()
    h = hessian.double().clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h += damp * torch.diag(h).mean() * torch.eye(k, dtype=h.dtype)
    h_inv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    codes = torch.zeros(n, k, dtype=torch.uint8)
    scales = torch.zeros(n, k // group, dtype=torch.float32)
    offsets = torch.zeros_like(scales)
    low, high = (0, (1 << spec.bits) - 1) if not spec.symmetric else (1, (1 << spec.bits) - 1)
    block = group if spec.group_size else min(128, k)
    for start in range(0, k, block):
        end = min(start + block, k)
        if start % group == 0:  # the group's scale from its weights as corrected so far
            params = quantize_weight(
                w[:, start : start + group].float(), spec.bits, 0, spec.symmetric
            )
            scale, offset = params.scales[:, 0].double(), params.offsets[:, 0].double()
            scales[:, start // group], offsets[:, start // group] = scale.float(), offset.float()
        w_block = w[:, start:end].clone()
        errors = torch.zeros_like(w_block)
        h_block = h_inv[start:end, start:end]
        safe = torch.where(scale > 0, scale, torch.ones_like(scale))
        for j in range(end - start):
            column = w_block[:, j]
            code = ((column - offset) / safe).round().clamp(low, high)
            codes[:, start + j] = code.to(torch.uint8)
            error = (column - (code * scale + offset)) / h_block[j, j]
            w_block[:, j:] -= error[:, None] * h_block[j, j:][None, :]
            errors[:, j] = error
        w[:, end:] -= errors @ h_inv[start:end, end:]
    return QuantizedWeight(codes, scales, offsets, spec.bits)
