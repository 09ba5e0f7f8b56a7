"""The DeviceMesh a :class:`~scalable_ai.parallel.spec.ParallelSpec` runs on.

One mesh with all six named dimensions (size 1 where unused), outermost first
``pp, dp, fsdp, ep, cp, tp`` (torchtitan's ordering: the dimension that talks most sits on
neighbouring ranks). ``dp_shard`` is ``fsdp x ep x cp`` flattened: every rank in it sees
other tokens, so FSDP shards parameters and averages gradients over it (torchtitan's
``dp_shard_cp``); ``dp`` is the replicate dimension of HSDP or DDP.
"""

from __future__ import annotations

import os
import warnings

import torch
import torch.distributed as dist
from torch.distributed.device_mesh import DeviceMesh, init_device_mesh

from scalable_ai.parallel.spec import DIMENSIONS, ParallelSpec


def device_type() -> str:
    """``cuda`` where a GPU is present (NCCL), otherwise ``cpu`` (gloo)."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def init_process_group() -> None:
    """Join the job torchrun (or a test's spawner) set up through the environment."""
    if dist.is_initialized():
        return
    backend = "nccl" if device_type() == "cuda" else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)


def build_mesh(spec: ParallelSpec) -> DeviceMesh:
    """The world as a ``pp x dp x fsdp x ep x cp x tp`` mesh, plus the flattened ``dp_shard``."""
    shape = tuple(getattr(spec, name) for name in DIMENSIONS)
    mesh = init_device_mesh(device_type(), shape, mesh_dim_names=DIMENSIONS)
    mesh["fsdp", "ep", "cp"]._flatten("dp_shard")
    return mesh


def data_mesh(mesh: DeviceMesh, spec: ParallelSpec) -> DeviceMesh:
    """The mesh FSDP shards and averages over: ``dp_shard``, or ``(dp, dp_shard)`` for HSDP."""
    names = ("dp", "dp_shard") if spec.dp > 1 else ("dp_shard",)
    with warnings.catch_warnings():
        # torch 2.13 asks callers to keep flattened meshes themselves from 2.11 on; slicing
        # one out of the root still works and is how a 2-D (replicate, shard) mesh is made.
        warnings.filterwarnings("ignore", message="Slicing a flattened dim")
        return mesh[names]
