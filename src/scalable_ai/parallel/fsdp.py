"""Fully sharded data parallel (ZeRO-3, Rajbhandari et al. 2020) with FSDP2 ``fully_shard``.

Each block's parameters are one communication group: all-gathered just before the block's
forward (and again before its backward), freed after, their gradients reduce-scattered so
every rank keeps 1/N of parameters, gradients and optimizer states. The root call takes
what is left (embedding, final norm, head). On a 2-D mesh ``(dp, dp_shard)`` this is HSDP:
sharded within ``dp_shard``, replicated (gradients all-reduced) across ``dp``.

Mixed precision (``param_dtype=bf16``, ``reduce_dtype=f32``) gathers bf16 weights for the
compute while the sharded master copy and the optimizer stay in f32; CPU offload keeps the
sharded parameters and optimizer states in host memory between uses.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.fsdp import (
    CPUOffloadPolicy,
    MixedPrecisionPolicy,
    OffloadPolicy,
    fully_shard,
)


def apply_fsdp(
    model: nn.Module,
    mesh: DeviceMesh,
    blocks: list[nn.Module],
    *,
    param_dtype: torch.dtype | None = None,
    reduce_dtype: torch.dtype | None = None,
    cpu_offload: bool = False,
    reshard_after_forward: bool = True,
    ignored_params: set[nn.Parameter] | None = None,
) -> None:
    """Shard ``model`` over ``mesh`` block by block, then at the root."""
    mixed = MixedPrecisionPolicy(param_dtype=param_dtype, reduce_dtype=reduce_dtype)
    # Pinned host memory speeds GPU copies; without a GPU there is nothing to pin for.
    offload = (
        CPUOffloadPolicy(pin_memory=torch.cuda.is_available()) if cpu_offload else OffloadPolicy()
    )
    for block in blocks:
        fully_shard(
            block,
            mesh=mesh,
            mp_policy=mixed,
            offload_policy=offload,
            reshard_after_forward=reshard_after_forward,
            ignored_params=ignored_params,
        )
    # The root's parameters are needed again right away by backward: keep them gathered.
    fully_shard(
        model,
        mesh=mesh,
        mp_policy=mixed,
        offload_policy=offload,
        reshard_after_forward=False,
        ignored_params=ignored_params,
    )
