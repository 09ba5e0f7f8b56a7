"""Tensor parallel plans (Megatron-LM, Shoeybi et al. 2019) with sequence parallel norms
(Korthikanti et al. 2022), applied from outside the model with DTensor's
``parallelize_module``.

Inside a block, the first matrix of each pair is split by output columns (``ColwiseParallel``:
each rank computes some heads / some hidden units) and the second by input rows
(``RowwiseParallel``: each rank holds a partial sum). One all-reduce per pair would finish it;
with sequence parallel it becomes a reduce-scatter onto a sequence-sharded residual stream,
and an all-gather before the next pair. Norms and residual adds then run on ``T / tp`` tokens
each, so activations outside attention and the MLP are not replicated.

Our model views q, k and v with its head counts; a rank holds ``n_heads / tp`` heads, so the
counts on each attention module are set to the local ones here (the model file stays
unaware of parallelism). Hugging Face Llama reshapes with ``-1`` and needs no such change,
but builds its causal mask from the embedding's length, so it gets the plain plan without
sequence parallel (as in its own ``base_model_tp_plan``).
"""

from __future__ import annotations

from torch import nn
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.tensor import Replicate, Shard
from torch.distributed.tensor.parallel import (
    ColwiseParallel,
    ParallelStyle,
    PrepareModuleInput,
    RowwiseParallel,
    SequenceParallel,
    parallelize_module,
)


def _present(module: nn.Module, plan: dict[str, ParallelStyle]) -> dict[str, ParallelStyle]:
    """The plan's entries whose module exists (a pipeline stage lacks some)."""
    names = {name for name, _ in module.named_modules()}
    return {name: style for name, style in plan.items() if name in names}


def block_plan(sequence_parallel: bool = True) -> dict[str, ParallelStyle]:
    """Plan for one of our blocks: attention heads and SwiGLU columns split."""
    if not sequence_parallel:
        return {
            "attn.q_proj": ColwiseParallel(),
            "attn.k_proj": ColwiseParallel(),
            "attn.v_proj": ColwiseParallel(),
            "attn.o_proj": RowwiseParallel(),
            "mlp.gate_proj": ColwiseParallel(),
            "mlp.up_proj": ColwiseParallel(),
            "mlp.down_proj": RowwiseParallel(),
        }
    # Attention's forward takes (x, rotary, cos, sin, backend): only x changes layout.
    keep = (None, None, None, None)
    return {
        "attn_norm": SequenceParallel(),
        "attn": PrepareModuleInput(
            input_layouts=(Shard(1), *keep), desired_input_layouts=(Replicate(), *keep)
        ),
        "attn.q_proj": ColwiseParallel(),
        "attn.k_proj": ColwiseParallel(),
        "attn.v_proj": ColwiseParallel(),
        "attn.o_proj": RowwiseParallel(output_layouts=Shard(1)),
        "mlp_norm": SequenceParallel(),
        "mlp": PrepareModuleInput(input_layouts=(Shard(1),), desired_input_layouts=(Replicate(),)),
        "mlp.gate_proj": ColwiseParallel(),
        "mlp.up_proj": ColwiseParallel(),
        "mlp.down_proj": RowwiseParallel(output_layouts=Shard(1)),
    }


def apply_tensor_parallel(
    model: nn.Module, tp_mesh: DeviceMesh, sequence_parallel: bool = True
) -> None:
    """Split our Transformer (or one pipeline stage of it) over ``tp_mesh`` in place."""
    tp = tp_mesh.size()
    stream = Shard(1) if sequence_parallel else Replicate()
    root = {
        "embed": RowwiseParallel(input_layouts=Replicate(), output_layouts=stream),
        "norm": SequenceParallel() if sequence_parallel else None,
        "lm_head": ColwiseParallel(input_layouts=stream, output_layouts=Replicate()),
    }
    parallelize_module(model, tp_mesh, _present(model, {k: v for k, v in root.items() if v}))
    for block in _blocks(model):
        parallelize_module(block, tp_mesh, block_plan(sequence_parallel))
        block.attn.n_heads //= tp
        block.attn.n_kv_heads //= tp
    config = getattr(model, "config", None)
    if config is not None and config.tie_embeddings and hasattr(model, "lm_head"):
        # Both are (vocab, dim) sharded on dim 0: one DTensor serves as both again.
        model.lm_head.weight = model.embed.weight


def _blocks(model: nn.Module) -> list[nn.Module]:
    layers = model.layers
    return list(layers.values()) if isinstance(layers, nn.ModuleDict) else list(layers)


def apply_tensor_parallel_hf(model: nn.Module, tp_mesh: DeviceMesh) -> None:
    """The same split on a ``transformers`` ``LlamaForCausalLM`` (its own module names)."""
    parallelize_module(
        model,
        tp_mesh,
        {
            "model.embed_tokens": RowwiseParallel(input_layouts=Replicate()),
            "lm_head": ColwiseParallel(output_layouts=Replicate()),
        },
    )
    for layer in model.model.layers:
        parallelize_module(
            layer,
            tp_mesh,
            {
                "self_attn.q_proj": ColwiseParallel(),
                "self_attn.k_proj": ColwiseParallel(),
                "self_attn.v_proj": ColwiseParallel(),
                "self_attn.o_proj": RowwiseParallel(),
                "mlp.gate_proj": ColwiseParallel(),
                "mlp.up_proj": ColwiseParallel(),
                "mlp.down_proj": RowwiseParallel(),
            },
        )
    if model.config.tie_word_embeddings:
        model.lm_head.weight = model.model.embed_tokens.weight
