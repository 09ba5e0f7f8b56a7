"""Quantization that looks at activations: AWQ scaling and GPTQ error correction, layer by layer.

Both read the inputs each linear layer sees on calibration text (token rows of our own
corpus, ``perplexity.corpus_rows(..., "calibration")``: documents outside the held-out split
perplexity is measured on). As in both papers, the model is walked one block at a time: the
calibration rows are embedded once, each block is calibrated on the hidden states that the
*already quantized* blocks before it produce, quantized, and then run (with its quantized
weights) to give the next block its inputs, so every block corrects for the error upstream.
The work happens on a float32 copy of each block; the model keeps its own dtype.

- **GPTQ** (Frantar et al. 2023, "GPTQ: Accurate Post-Training Quantization for Generative
  Pre-trained Transformers"): inside a block the linears are quantized in the order the
  block computes them (q/k/v, then o, then gate/up, then down: the reference code's
  "true sequential"), each from the Hessian H = XᵀX of the inputs it sees with the earlier
  ones already quantized. One input column at a time is rounded and its error spread over
  the columns not yet quantized through the upper Cholesky factor of H⁻¹ (Algorithm 1), with
  1% of the mean diagonal added to H (dampening) and lazy batch updates of 128 columns. With
  ``act_order`` the columns go in order of decreasing H diagonal; the group scales are then
  fixed from the unquantized weight first ("static groups"), so each code keeps its column's
  group and the stored layout (and the kernels) are unchanged. With ``range_search`` each
  group's range is the shrink of its extremes (down to 0.8) with the smallest Σ|w − q|^2.4
  (the reference code's ``mse`` option) instead of the extremes themselves.
- **AWQ** (Lin et al. 2024, "AWQ: Activation-aware Weight Quantization"): input channels
  that carry large activations matter most, so they are scaled up before rounding and the
  activation divided by the same factor, folded into the preceding RMSNorm gain (q/k/v,
  gate/up) or into ``up_proj``'s rows (down). The scale is s = mean|x|^α (normalised), α from
  a grid of 11 per group of linears sharing an input, chosen by the error of those linears'
  real outputs on calibration rows. Then, per linear, each group's range is shrunk by the
  factor (grid 1.0 → 0.5) that minimises its output error ("clipping", the paper's second
  search; q and k are left unclipped, as AutoAWQ leaves them). ``o_proj`` keeps s = 1: its input comes from grouped value heads, which a
  per-channel fold into ``v_proj`` cannot serve unless every query head has its own.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable

import torch
from torch import nn

from scalable_ai.infer.quant import QuantizedWeight, QuantSpec, quantize_weight

#: Rows of a layer's input kept for AWQ's searches (sampled evenly across the calibration);
#: the clipping search reads ``CLIP_ROWS`` of those, evenly spread (512 tokens, as AutoAWQ).
SAMPLE_ROWS = 1024
CLIP_ROWS = 512
ALPHAS = [i / 10 for i in range(11)]
CLIP_RATIOS = [1 - i / 20 for i in range(11)]  # 1.0 down to 0.5
#: Not clipped, as in AutoAWQ: their outputs meet in the q·k product, so a linear's own
#: output error is a poor guide for them.
NOT_CLIPPED = ("attn.q_proj", "attn.k_proj")
#: Calibration rows run through a block together.
BATCH_ROWS = 8
#: GPTQ's lazy batch: columns whose updates are applied to the rest of the matrix at once.
LAZY_BLOCK = 128


def stages(block: nn.Module) -> list[tuple[tuple[str, ...], str | None]]:
    """The block's linears in the order it computes them, grouped by shared input, each
    group with where AWQ's 1/s folds (None: nowhere)."""
    mlp = ("mlp.gate_proj", "mlp.up_proj") if hasattr(block.mlp, "gate_proj") else ("mlp.up_proj",)
    down_fold = "mlp.up_proj" if len(mlp) == 2 else None  # relu² does not commute with scaling
    return [
        (("attn.q_proj", "attn.k_proj", "attn.v_proj"), "attn_norm"),
        (("attn.o_proj",), None),
        (mlp, "mlp_norm"),
        (("mlp.down_proj",), down_fold),
    ]


class _Stop(Exception):
    """Raised by a capture hook once it has what it needs: the rest of the block is skipped."""


class _Inputs:
    """What one linear's input looks like on the calibration rows: X^T X (for GPTQ), the
    mean |x| per channel and an even sample of rows (for AWQ)."""

    def __init__(self, width: int, hessian: bool, stride: int) -> None:
        self.hessian = torch.zeros(width, width, dtype=torch.float64) if hessian else None
        self.abs_sum = torch.zeros(width, dtype=torch.float64)
        self.rows = 0
        self.stride = stride
        self.sample: list[torch.Tensor] = []

    def add(self, x: torch.Tensor) -> None:
        x = x.detach().reshape(-1, x.shape[-1]).float()
        if self.hessian is not None:  # f32 products, f64 sums
            self.hessian += (x.T @ x).double().cpu()
        self.abs_sum += x.abs().sum(0).double().cpu()
        self.rows += x.shape[0]
        self.sample.append(x[:: self.stride].cpu())

    @property
    def mean_abs(self) -> torch.Tensor:
        return (self.abs_sum / max(self.rows, 1)).float()

    @property
    def rows_sample(self) -> torch.Tensor:
        return torch.cat(self.sample)[:SAMPLE_ROWS]


class _Walk:
    """The calibration rows' hidden states entering the current block, and how to run one."""

    def __init__(self, model: nn.Module, calibration: list[torch.Tensor]) -> None:
        device = model.get_parameter("embed.weight").device
        rows = torch.stack([row.reshape(-1) for row in calibration]).to(device)
        self.rotary = model.rotary
        positions = torch.arange(rows.shape[1], device=device)[None]
        self.cos, self.sin = model.rotary(positions, torch.float32)
        with torch.no_grad():
            self.hidden = [model.embed(batch).float() for batch in rows.split(BATCH_ROWS)]
        self.tokens = rows.numel()

    def run(self, block: nn.Module, hooks: dict[str, Callable[[torch.Tensor], None]]) -> None:
        """Run every batch through ``block`` with input hooks on the named linears; a hook that
        raises :class:`_Stop` ends that batch's forward there."""
        handles = [
            block.get_submodule(name).register_forward_pre_hook(lambda _, args, fn=fn: fn(args[0]))
            for name, fn in hooks.items()
        ]
        try:
            for x in self.hidden:
                with contextlib.suppress(_Stop):
                    block(x, self.rotary, self.cos, self.sin, None)
        finally:
            for handle in handles:
                handle.remove()

    def advance(self, block: nn.Module) -> None:
        """The next block's inputs: this block (quantized weights in place) on each batch."""
        self.hidden = [block(x, self.rotary, self.cos, self.sin, None) for x in self.hidden]

    def capture(self, block: nn.Module, names: list[str], hessian: bool) -> dict[str, _Inputs]:
        """Statistics of the inputs of ``names`` (stopping after the last of them)."""
        stride = max(1, self.tokens // SAMPLE_ROWS)
        stats = {
            name: _Inputs(block.get_submodule(name).in_features, hessian, stride) for name in names
        }

        def hook(name: str) -> Callable[[torch.Tensor], None]:
            def add(x: torch.Tensor) -> None:
                stats[name].add(x)
                if name == names[-1]:
                    raise _Stop

            return add

        self.run(block, {name: hook(name) for name in names})
        return stats


@torch.no_grad()
def quantize_calibrated(
    model: nn.Module,
    calibration: list[torch.Tensor],
    spec: QuantSpec,
    progress: Callable[[int], None] | None = None,
) -> dict[str, QuantizedWeight]:
    """Codes for every block linear of ``model`` by ``spec.method`` (``awq`` or ``gptq``),
    block by block (module docstring). AWQ also folds its scales into ``model``'s norms and
    ``up_proj`` rows, in place; the returned codes belong to that rescaled model."""
    walk = _Walk(model, calibration)
    out: dict[str, QuantizedWeight] = {}
    for i, layer in enumerate(model.layers):
        work = copy.deepcopy(layer).float()
        if spec.method == "awq":
            codes = _awq_block(work, layer, walk, spec)
        else:
            codes = _gptq_block(work, walk, spec)
        out.update({f"layers.{i}.{name}": q for name, q in codes.items()})
        walk.advance(work)
        if progress is not None:
            progress(i + 1)
    return out


def _set_weight(block: nn.Module, name: str, weight: torch.Tensor) -> None:
    block.get_submodule(name).weight.copy_(weight)


# ------------------------------------------------------------------------------------ GPTQ
def _gptq_block(work: nn.Module, walk: _Walk, spec: QuantSpec) -> dict[str, QuantizedWeight]:
    codes: dict[str, QuantizedWeight] = {}
    for names, _ in stages(work):
        stats = walk.capture(work, [names[0]], hessian=True)[names[0]]
        linears = [work.get_submodule(name) for name in names]
        stacked = torch.cat([linear.weight for linear in linears])
        assert stats.hessian is not None
        q = gptq_weight(stacked, stats.hessian / max(stats.rows, 1), spec)
        start = 0
        for name, linear in zip(names, linears, strict=True):
            rows = slice(start, start + linear.out_features)
            codes[name] = QuantizedWeight(
                q.codes[rows].contiguous(),
                q.scales[rows].contiguous(),
                q.offsets[rows].contiguous(),
                spec.bits,
            )
            _set_weight(work, name, codes[name].dequantize())
            start += linear.out_features
    return codes


def gptq_weight(
    weight: torch.Tensor, hessian: torch.Tensor, spec: QuantSpec, damp: float = 0.01
) -> QuantizedWeight:
    """One (N, K) weight by GPTQ: Algorithm 1 of the paper in float32 as the reference code
    runs it (lazy batches, Cholesky form of H⁻¹, dampening ``damp`` × mean diagonal), group
    scales taken from the weights as corrected so far when a group starts, or, with
    ``spec.act_order``, fixed from the original weight while columns go in order of
    decreasing diagonal of H."""
    n, k = weight.shape
    group = spec.group_size or k
    w = weight.detach().float().cpu().clone()
    h = hessian.detach().double().cpu().clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    act_order = spec.act_order
    scales = torch.zeros(k // group, n)  # transposed while filled: one contiguous row a group
    offsets = torch.zeros_like(scales)
    if act_order:  # static groups: every group's scale from the unquantized weight
        for g in range(k // group):
            scales[g], offsets[g] = _group_range(w[:, g * group : (g + 1) * group], spec)
        order = torch.argsort(torch.diag(h), descending=True)
    else:
        order = torch.arange(k)
    w, h = w[:, order], h[order][:, order]
    h += damp * torch.diag(h).mean() * torch.eye(k, dtype=h.dtype)
    inverse = torch.cholesky_solve(torch.eye(k, dtype=h.dtype), torch.linalg.cholesky(h))
    h_inv = torch.linalg.cholesky(inverse, upper=True).float()  # (cholesky_inverse: 4x slower)
    codes = torch.zeros(n, k)
    low, high = (1 if spec.symmetric else 0), (1 << spec.bits) - 1
    columns = order.tolist()
    # a group's scale is found when its first column comes up, from the whole group as
    # corrected so far: a lazy batch must then hold whole groups
    block = group if (group <= LAZY_BLOCK or group % LAZY_BLOCK) and not act_order else LAZY_BLOCK
    for start in range(0, k, block):
        end = min(start + block, k)
        w_block = w[:, start:end].clone()
        errors = torch.zeros_like(w_block)
        h_block = h_inv[start:end, start:end]
        diagonal = torch.diag(h_block).tolist()
        for j in range(end - start):
            column_index = columns[start + j]
            g = column_index // group
            if not act_order and column_index % group == 0:
                scales[g], offsets[g] = _group_range(w_block[:, j : j + group], spec)
            scale, offset = scales[g], offsets[g]
            inverse = torch.where(scale > 0, 1 / scale, torch.zeros_like(scale))
            column = w_block[:, j]
            code = ((column - offset) * inverse).round_().clamp_(low, high)
            codes[:, column_index] = code
            error = (column - (code * scale + offset)) / diagonal[j]
            w_block[:, j + 1 :].addr_(error, h_block[j, j + 1 :], alpha=-1)
            errors[:, j] = error
        w[:, end:].addmm_(errors, h_inv[start:end, end:], alpha=-1)
    return QuantizedWeight(
        codes.to(torch.uint8), scales.T.contiguous(), offsets.T.contiguous(), spec.bits
    )


def _group_range(w: torch.Tensor, spec: QuantSpec) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, offset) per row of one group, as ``quantize_weight`` sets them; with
    ``spec.range_search`` the range shrink (1.0 → 0.8) with the smallest Σ|w − q(w)|^2.4 of
    the group's weights, per row (the reference GPTQ code's ``mse`` option)."""
    best_scale, best_offset = _shrunk_range(w, spec, 1.0)
    if not spec.range_search:
        return best_scale, best_offset
    best_error = _range_error(w, spec, best_scale, best_offset)
    for step in range(1, 21):
        scale, offset = _shrunk_range(w, spec, 1.0 - step / 100)
        error = _range_error(w, spec, scale, offset)
        better = error < best_error
        best_error = torch.where(better, error, best_error)
        best_scale = torch.where(better, scale, best_scale)
        best_offset = torch.where(better, offset, best_offset)
    return best_scale, best_offset


def _shrunk_range(
    w: torch.Tensor, spec: QuantSpec, shrink: float
) -> tuple[torch.Tensor, torch.Tensor]:
    if spec.symmetric:
        half = 1 << (spec.bits - 1)
        scale = w.abs().amax(1) * shrink / (half - 1)
        return scale, -half * scale
    low = w.amin(1) * shrink
    return (w.amax(1) * shrink - low) / ((1 << spec.bits) - 1), low


def _range_error(w: torch.Tensor, spec: QuantSpec, scale: torch.Tensor, offset: torch.Tensor):
    low, high = (1 if spec.symmetric else 0), (1 << spec.bits) - 1
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))[:, None]
    codes = ((w - offset[:, None]) / safe).round().clamp(low, high)
    return (codes * scale[:, None] + offset[:, None] - w).abs().pow(2.4).sum(1)


# ------------------------------------------------------------------------------------- AWQ
def _awq_block(
    work: nn.Module, layer: nn.Module, walk: _Walk, spec: QuantSpec
) -> dict[str, QuantizedWeight]:
    """Scale search and fold for each group (on the float block, inputs from the quantized
    prefix), then the clipping search and rounding of every linear."""
    plan = stages(work)
    firsts = [names[0] for names, _ in plan]
    stats = walk.capture(work, firsts, hessian=False)
    samples: dict[str, torch.Tensor] = {}
    for names, fold in plan:
        x = stats[names[0]].rows_sample
        if fold is not None:
            s = best_scale([work.get_submodule(n).weight for n in names], x, stats[names[0]], spec)
            for target in (work, layer):
                fold_scale(target, names, fold, s)
            x = x / s
        samples.update({name: x for name in names})
    codes: dict[str, QuantizedWeight] = {}
    for names, _ in plan:
        for name in names:
            weight = work.get_submodule(name).weight
            x = samples[name]
            x = x[:: max(1, len(x) // CLIP_ROWS)][:CLIP_ROWS]
            clip = None if name in NOT_CLIPPED else best_clip(weight, x, spec)
            codes[name] = quantize_weight(weight, spec.bits, spec.group_size, spec.symmetric, clip)
            _set_weight(work, name, codes[name].dequantize())
    return codes


def fold_scale(block: nn.Module, names: tuple[str, ...], fold: str, s: torch.Tensor) -> None:
    """Multiply the input channels of ``names`` by s and divide what feeds them (the norm's
    gain, or the rows of ``up_proj``) by s: the block computes the same function."""
    for name in names:
        weight = block.get_submodule(name).weight
        weight.copy_((weight.float() * s).to(weight.dtype))
    source = block.get_submodule(fold).weight
    inverse = (1 / s)[:, None] if source.dim() == 2 else 1 / s
    source.copy_((source.float() * inverse).to(source.dtype))


def _output_error(x: torch.Tensor, weight: torch.Tensor, got: torch.Tensor) -> float:
    return float((x @ (got - weight).T).pow(2).mean())


def best_scale(
    weights: list[torch.Tensor], x: torch.Tensor, stats: _Inputs, spec: QuantSpec
) -> torch.Tensor:
    """AWQ's per-input-channel scale: s = mean|x|^α over a grid of α, normalised by
    sqrt(max s · min s), the one whose rounded weights give the smallest output error."""
    weight = torch.cat([w.float() for w in weights])
    magnitude = stats.mean_abs.clamp(min=1e-5)
    best, best_error = torch.ones_like(magnitude), float("inf")
    for alpha in ALPHAS:
        s = magnitude.pow(alpha)
        s = s / (s.max() * s.min()).sqrt()
        rounded = quantize_weight(weight * s, spec.bits, spec.group_size, spec.symmetric)
        error = _output_error(x, weight, rounded.dequantize() / s)
        if error < best_error:
            best, best_error = s, error
    return best


def best_clip(weight: torch.Tensor, x: torch.Tensor, spec: QuantSpec) -> torch.Tensor:
    """Per (row, group), the range shrink from ``CLIP_RATIOS`` with the smallest error of that
    group's share of the output, Σ over sample rows of (x_g · (w_g − q_g))²."""
    n, k = weight.shape
    group = spec.group_size or k
    w = weight.float()
    xg = x.view(-1, k // group, group).transpose(0, 1)  # (G, S, g)
    best_error = torch.full((n, k // group), float("inf"))
    best = torch.ones(n, k // group)
    for ratio in CLIP_RATIOS:
        clip = torch.full((n, k // group), ratio)
        delta = quantize_weight(w, spec.bits, group, spec.symmetric, clip).dequantize() - w
        dg = delta.view(n, k // group, group).permute(1, 2, 0)  # (G, g, N)
        error = torch.bmm(xg, dg).pow(2).sum(1).T  # (N, G)
        better = error < best_error
        best_error = torch.where(better, error, best_error)
        best = torch.where(better, clip, best)
    return best
