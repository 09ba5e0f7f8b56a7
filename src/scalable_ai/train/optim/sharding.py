"""Whole matrices for the matrix optimizers when parameters are sharded (DTensor, FSDP2).

Muon's Newton–Schulz iteration and SOAP's eigenbases are functions of a *whole* matrix: a
shard's singular vectors are not the matrix's. So each step gathers the full gradient of
one matrix, runs the per-matrix math on it (every rank the same, deterministic), and keeps
this rank's shard of the result with the parameter's own placements. That costs one
all-gather per matrix per step, the simple scheme modded-nanogpt's distributed Muon
improves on by giving each rank whole matrices to orthogonalize in turn.
Plain tensors pass through both functions untouched.
"""

from __future__ import annotations

import torch


def _dtensor_type() -> type | None:
    try:
        from torch.distributed.tensor import DTensor
    except ImportError:  # a torch built without distributed support
        return None
    return DTensor


def full_tensor(tensor: torch.Tensor) -> torch.Tensor:
    """The whole tensor behind ``tensor`` (an all-gather when it is a DTensor)."""
    dtensor = _dtensor_type()
    if dtensor is not None and isinstance(tensor, dtensor):
        return tensor.full_tensor()
    return tensor


def shard_like(full: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """``full`` laid out like ``reference``: this rank's shard when it is a DTensor.

    Every rank holds the same ``full`` (computed from the same gathered inputs), so each
    keeps its own part without communication (``src_data_rank=None``).
    """
    dtensor = _dtensor_type()
    if dtensor is not None and isinstance(reference, dtensor):
        from torch.distributed.tensor import distribute_tensor

        return distribute_tensor(
            full, reference.device_mesh, reference.placements, src_data_rank=None
        )
    return full
