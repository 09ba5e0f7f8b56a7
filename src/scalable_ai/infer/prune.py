"""Pruning (lecture 17): sparsity masks, and structured width/depth pruning with distillation.

Two families, with different promises:

- **Masks** keep the model's shapes and zero weights. ``magnitude`` zeroes the smallest-|w|
  fraction of each projection matrix (unstructured; Han et al. 2015). ``2:4`` keeps, in every
  group of 4 consecutive input weights of a row, the 2 largest (NVIDIA's semi-structured
  sparsity, Mishra et al. 2021). **No speed is claimed for either here**: the checkpoint is a
  dense one with zeros in it, and no kernel of our CPU forward skips them. On an NVIDIA GPU
  (Ampere or newer) ``torch.sparse.to_sparse_semi_structured`` turns a 2:4-masked weight into
  the form its sparse tensor cores multiply at up to 2x; that path is documented, not tested
  here (no GPU on these machines).
- **Structured pruning** makes a smaller dense model that every path runs faster
  (Minitron: Muralidharan et al. 2024, "Compact Language Models via Pruning and Knowledge
  Distillation"). Width: FFN hidden channels and query heads are ranked by the mean size of
  their activation on calibration text (the input of ``down_proj`` per channel, the input of
  ``o_proj`` per head) and the least important are dropped. Depth: whole blocks are ranked by
  block importance ``1 - cos(x_in, x_out)`` of the residual stream (Men et al. 2024,
  "ShortGPT"; Minitron compares it with the LM-loss drop) and the least important removed.
  Heads are dropped the same number per key/value group so grouped-query attention still
  holds (``n_heads`` a multiple of ``n_kv_heads``); ``head_dim`` is written into the new config.
- **Distillation** recovers: the pruned student is trained a few AdamW steps on the KL
  divergence from the original model's next-token distribution on calibration text
  (Hinton et al. 2015; Minitron's logit-only distillation). Masks stay applied after each step.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from scalable_ai.errors import UserError
from scalable_ai.model.config import ModelConfig
from scalable_ai.model.load.safetensors import build_model
from scalable_ai.model.transformer import SwiGLU, Transformer

MODES = ("magnitude", "2:4", "width", "depth")
#: The projections a mask applies to (the embedding table and LM head are left dense).
PROJECTIONS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass
class PruneSpec:
    """What to prune. ``sparsity`` is for ``magnitude``; ``ffn_hidden`` and ``heads_per_group``
    (0: unchanged) for ``width``; ``n_layers`` (blocks to keep, by importance) or
    ``drop_layers`` (indices) for ``depth``. ``distill_steps`` 0 skips distillation."""

    mode: str = "magnitude"
    sparsity: float = 0.5
    ffn_hidden: int = 0
    heads_per_group: int = 0
    n_layers: int = 0
    drop_layers: list[int] = field(default_factory=list)
    distill_steps: int = 0
    lr: float = 1e-4

    def validate(self, config: ModelConfig | None = None) -> None:
        """Raise :class:`UserError` naming the first setting that makes no pruning."""
        if self.mode not in MODES:
            raise UserError(f"unknown mode {self.mode!r}; known: {', '.join(MODES)}", field="mode")
        if not 0.0 <= self.sparsity < 1.0:
            raise UserError(f"must be in [0, 1), got {self.sparsity}", field="sparsity")
        if self.distill_steps < 0:
            raise UserError("must be 0 or more", field="distill_steps")
        if self.lr <= 0:
            raise UserError("must be positive", field="lr")
        if self.mode == "width" and not (self.ffn_hidden or self.heads_per_group):
            raise UserError("width pruning needs ffn_hidden or heads_per_group", field="ffn_hidden")
        if self.mode == "depth" and not (self.n_layers or self.drop_layers):
            raise UserError("depth pruning needs n_layers or drop_layers", field="n_layers")
        if config is None:
            return
        group = config.n_heads // config.n_kv_heads
        if self.mode == "width" and not 0 <= self.ffn_hidden <= config.ffn_hidden:
            raise UserError(f"must be in 1..{config.ffn_hidden}", field="ffn_hidden")
        if self.mode == "width" and not 0 <= self.heads_per_group <= group:
            raise UserError(
                f"must be in 1..{group} (query heads per KV head)", field="heads_per_group"
            )
        if self.mode == "depth" and not 0 <= self.n_layers < config.n_layers:
            raise UserError(f"must be in 1..{config.n_layers - 1}", field="n_layers")
        bad = [i for i in self.drop_layers if not 0 <= i < config.n_layers]
        if bad or len(set(self.drop_layers)) >= config.n_layers:
            raise UserError(
                f"layer indices must be distinct, in 0..{config.n_layers - 1} and leave one layer",
                field="drop_layers",
            )
        if self.mode == "width" and config.n_experts:
            raise UserError("pruning of Mixture-of-Experts models is not built", field="mode")


# ---- masks --------------------------------------------------------------------------------


def magnitude_mask(weight: torch.Tensor, sparsity: float) -> torch.Tensor:
    """True where a weight stays: exactly ``round(sparsity * numel)`` smallest-|w| are False."""
    drop = round(sparsity * weight.numel())
    keep = torch.ones(weight.numel(), dtype=torch.bool, device=weight.device)
    if drop:
        order = weight.detach().abs().flatten().float().argsort(stable=True)
        keep[order[:drop]] = False
    return keep.view_as(weight)


def semi_structured_mask(weight: torch.Tensor) -> torch.Tensor:
    """2:4 mask: in every group of 4 consecutive inputs of a row, the 2 largest |w| stay."""
    rows, inputs = weight.shape
    if inputs % 4:
        raise UserError(f"2:4 needs inputs divisible by 4, got {inputs}", field="mode")
    groups = weight.detach().abs().float().view(rows, inputs // 4, 4)
    top = groups.topk(2, dim=-1).indices
    keep = torch.zeros_like(groups, dtype=torch.bool).scatter_(-1, top, True)
    return keep.view(rows, inputs)


def projections(model: Transformer) -> list[tuple[str, nn.Linear]]:
    """(name, linear) for every projection inside the blocks."""
    return [
        (name, module)
        for name, module in model.layers.named_modules()
        if isinstance(module, nn.Linear) and name.rsplit(".", 1)[-1] in PROJECTIONS
    ]


@torch.no_grad()
def apply_masks(model: Transformer, spec: PruneSpec) -> dict[str, torch.Tensor]:
    """Zero the pruned weights of every projection in place; the masks by module name."""
    masks = {}
    for name, linear in projections(model):
        if spec.mode == "2:4":
            mask = semi_structured_mask(linear.weight)
        else:
            mask = magnitude_mask(linear.weight, spec.sparsity)
        linear.weight.mul_(mask)
        masks[name] = mask
    return masks


def sparsity_of(model: Transformer) -> float:
    """Fraction of zero weights over the blocks' projections."""
    zeros = total = 0
    for _, linear in projections(model):
        zeros += int((linear.weight == 0).sum())
        total += linear.weight.numel()
    return zeros / max(total, 1)


# ---- importance on calibration text ------------------------------------------------------------


@torch.no_grad()
def width_importance(
    model: Transformer, rows: list[torch.Tensor]
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Per layer: mean |activation| of each FFN hidden channel (down_proj's input) and the
    mean L2 norm of each query head's attention output (o_proj's input), over all tokens."""
    config = model.config
    channels = [torch.zeros(config.ffn_hidden) for _ in model.layers]
    heads = [torch.zeros(config.n_heads) for _ in model.layers]
    hooks = []

    def record(target: torch.Tensor, per_head: bool) -> Callable[..., None]:
        def hook(_module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            x = inputs[0].detach().float().flatten(0, -2)
            if per_head:
                x = x.view(len(x), config.n_heads, -1).norm(dim=-1)
            target.add_(x.abs().sum(0).cpu())

        return hook

    for i in range(len(model.layers)):
        down = model.get_submodule(f"layers.{i}.mlp.down_proj")
        out = model.get_submodule(f"layers.{i}.attn.o_proj")
        hooks.append(down.register_forward_pre_hook(record(channels[i], False)))
        hooks.append(out.register_forward_pre_hook(record(heads[i], True)))
    try:
        for row in rows:
            model(row.reshape(1, -1).to(model.embed.weight.device))
    finally:
        for hook in hooks:
            hook.remove()
    return channels, heads


@torch.no_grad()
def block_importance(model: Transformer, rows: list[torch.Tensor]) -> list[float]:
    """Per block: 1 - mean cosine similarity of the residual stream before and after it
    (ShortGPT's block influence); a block that barely turns the stream matters little."""
    scores = torch.zeros(len(model.layers), dtype=torch.float64)
    count = 0
    hooks = []

    def record(index: int) -> Callable[..., None]:
        def hook(
            _module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor
        ) -> None:
            before, after = inputs[0].float().flatten(0, -2), output.float().flatten(0, -2)
            scores[index] += float((1 - F.cosine_similarity(before, after, dim=-1)).sum())

        return hook

    for i, layer in enumerate(model.layers):
        hooks.append(layer.register_forward_hook(record(i)))
    try:
        for row in rows:
            model(row.reshape(1, -1).to(model.embed.weight.device))
            count += len(row)
    finally:
        for hook in hooks:
            hook.remove()
    return (scores / max(count, 1)).tolist()


# ---- structured pruning -------------------------------------------------------------------------


def _rebuild(
    model: Transformer, config: ModelConfig, state: dict[str, torch.Tensor]
) -> Transformer:
    dtype = model.embed.weight.dtype
    return build_model(config, state, dtype=dtype, device=model.embed.weight.device)


@torch.no_grad()
def prune_width(
    model: Transformer,
    rows: list[torch.Tensor],
    ffn_hidden: int = 0,
    heads_per_group: int = 0,
) -> Transformer:
    """A smaller dense model keeping the ``ffn_hidden`` most important FFN channels and the
    ``heads_per_group`` most important query heads of each KV group, in every layer (0: all)."""
    config = model.config
    if config.n_experts:
        raise UserError("width pruning of Mixture-of-Experts models is not built", field="mode")
    group = config.n_heads // config.n_kv_heads
    ffn_hidden = ffn_hidden or config.ffn_hidden
    heads_per_group = heads_per_group or group
    channels, heads = width_importance(model, rows)
    head_dim = config.head_size
    state = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    for i, layer in enumerate(model.layers):
        keep = channels[i].topk(ffn_hidden).indices.sort().values
        prefix = f"layers.{i}.mlp."
        for name in ("gate_proj", "up_proj"):
            if isinstance(layer.mlp, SwiGLU) or name == "up_proj":
                state[prefix + name + ".weight"] = state[prefix + name + ".weight"][keep]
        state[prefix + "down_proj.weight"] = state[prefix + "down_proj.weight"][:, keep]
        by_group = heads[i].view(config.n_kv_heads, group)
        kept_heads = (
            by_group.topk(heads_per_group, dim=1).indices.sort(dim=1).values
            + torch.arange(config.n_kv_heads)[:, None] * group
        ).flatten()
        dims = (kept_heads[:, None] * head_dim + torch.arange(head_dim)).flatten()
        prefix = f"layers.{i}.attn."
        state[prefix + "q_proj.weight"] = state[prefix + "q_proj.weight"][dims]
        state[prefix + "o_proj.weight"] = state[prefix + "o_proj.weight"][:, dims]
    new = dataclasses.replace(
        config,
        ffn_hidden=ffn_hidden,
        n_heads=heads_per_group * config.n_kv_heads,
        head_dim=head_dim,
        name=f"{config.name}-width" if config.name else "width-pruned",
    )
    return _rebuild(model, new, state)


@torch.no_grad()
def prune_depth(model: Transformer, drop: list[int]) -> Transformer:
    """A model without the blocks whose indices are in ``drop`` (later blocks renumbered)."""
    config = model.config
    kept = [i for i in range(config.n_layers) if i not in set(drop)]
    state = {}
    for name, tensor in model.state_dict().items():
        if name.startswith("layers."):
            _, index, rest = name.split(".", 2)
            if int(index) in drop:
                continue
            name = f"layers.{kept.index(int(index))}.{rest}"
        state[name] = tensor.clone()
    new = dataclasses.replace(
        config,
        n_layers=len(kept),
        name=f"{config.name}-depth" if config.name else "depth-pruned",
    )
    return _rebuild(model, new, state)


def least_important_blocks(model: Transformer, rows: list[torch.Tensor], keep: int) -> list[int]:
    """Indices of the ``n_layers - keep`` blocks with the lowest block importance."""
    scores = block_importance(model, rows)
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    return sorted(order[: len(scores) - keep])


# ---- distillation -------------------------------------------------------------------------------


def kl_to_teacher(student: Transformer, teacher: Transformer, rows: list[torch.Tensor]) -> float:
    """Mean per-token KL(teacher || student) over the rows (nats)."""
    with torch.no_grad():
        total = sum(float(_kl(student, teacher, row.reshape(1, -1))) for row in rows)
    return total / max(len(rows), 1)


def _kl(student: Transformer, teacher: Transformer, batch: torch.Tensor) -> torch.Tensor:
    batch = batch.to(student.embed.weight.device)
    with torch.no_grad():
        target = F.log_softmax(teacher(batch).float(), dim=-1).flatten(0, 1)
    logits = F.log_softmax(student(batch).float(), dim=-1).flatten(0, 1)
    return F.kl_div(logits, target, log_target=True, reduction="batchmean")


def distill(
    student: Transformer,
    teacher: Transformer,
    rows: list[torch.Tensor],
    steps: int,
    lr: float = 1e-4,
    masks: dict[str, torch.Tensor] | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> list[float]:
    """``steps`` AdamW steps of the student on KL to the teacher, one calibration row per step
    (cycling); masks (by module name) are re-applied after each step. The losses per step."""
    teacher.eval()
    student.train()
    modules = dict(student.layers.named_modules())
    optimizer = torch.optim.AdamW(student.parameters(), lr=lr, weight_decay=0.0)
    losses = []
    for step in range(steps):
        loss = _kl(student, teacher, rows[step % len(rows)].reshape(1, -1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if masks:
            with torch.no_grad():
                for name, mask in masks.items():
                    modules[name].weight.mul_(mask)  # type: ignore[operator]
        losses.append(float(loss.detach()))
        if on_step is not None:
            on_step(step, losses[-1])
    student.eval()
    return losses


def prune(
    model: Transformer, spec: PruneSpec, rows: list[torch.Tensor]
) -> tuple[Transformer, dict[str, torch.Tensor]]:
    """The pruned model (a new one for width/depth; ``model`` itself, masked, for masks) and
    the masks (empty for structured pruning). Distillation is separate (:func:`distill`)."""
    spec.validate(model.config)
    if spec.mode in ("magnitude", "2:4"):
        return model, apply_masks(model, spec)
    if spec.mode == "width":
        return prune_width(model, rows, spec.ffn_hidden, spec.heads_per_group), {}
    drop = spec.drop_layers or least_important_blocks(model, rows, spec.n_layers)
    return prune_depth(model, drop), {}
