"""Part 2 (lecture: tensor parallelism): Megatron-LM's column- and row-parallel linear layers
and the two communication operators that make them exact (Shoeybi et al. 2019, section 3).

An MLP ``down(act(up(x)))`` splits over ``N`` ranks without communication in the middle:
``up``'s weight is split by **output columns** (rank ``r`` computes hidden units
``r·H/N .. (r+1)·H/N``), ``down``'s by **input rows** (rank ``r`` multiplies only its hidden
units and holds a partial sum of the output). Two operators join the pieces:

* ``f`` (:class:`CopyToTensorParallel`) before the column-parallel layer: identity forward;
  in backward each rank holds only its part of ``dL/dx``, so it **all-reduces** the gradient.
* ``g`` (:class:`ReduceFromTensorParallel`) after the row-parallel layer: **all-reduce**
  forward (sum the partial outputs); identity backward.

One all-reduce forward and one backward per MLP: the lecture's count.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn


class CopyToTensorParallel(torch.autograd.Function):
    """Megatron's ``f``: identity forward, all-reduce of the gradient backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        raise NotImplementedError("TODO(A1.4): f forward")

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        raise NotImplementedError("TODO(A1.4): f backward")


class ReduceFromTensorParallel(torch.autograd.Function):
    """Megatron's ``g``: all-reduce forward, identity backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        raise NotImplementedError("TODO(A1.4): g forward")

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        raise NotImplementedError("TODO(A1.4): g backward")


def shard_rows(weight: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Rank ``rank``'s contiguous share of ``weight``'s first axis (it must split evenly)."""
    if weight.shape[0] % world:
        raise ValueError(f"{weight.shape[0]} rows do not split over {world} ranks")
    return weight.chunk(world, dim=0)[rank].clone()


class ColumnParallelLinear(nn.Module):
    """``full``'s output features split over the ranks: input replicated, output sharded."""

    def __init__(self, full: nn.Linear, rank: int, world: int) -> None:
        super().__init__()
        # TODO(A1.5): this rank's rows of ``full.weight`` (shape (out, in)) and of its bias.
        raise NotImplementedError("TODO(A1.5): ColumnParallelLinear")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("TODO(A1.5): ColumnParallelLinear.forward (f, then the matmul)")


class RowParallelLinear(nn.Module):
    """``full``'s input features split over the ranks: input sharded, output summed
    (replicated). The bias is added once, after the sum."""

    def __init__(self, full: nn.Linear, rank: int, world: int) -> None:
        super().__init__()
        # TODO(A1.6): this rank's columns of ``full.weight``; the whole bias (added once).
        raise NotImplementedError("TODO(A1.6): RowParallelLinear")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("TODO(A1.6): RowParallelLinear.forward (the matmul, g, the bias)")


class TensorParallelSwiGLU(nn.Module):
    """The lab model's SwiGLU feed-forward (``scalable_ai.model.transformer.SwiGLU``) split over
    the ranks: gate and up column-parallel, down row-parallel."""

    def __init__(self, mlp: nn.Module, rank: int, world: int) -> None:
        super().__init__()
        # TODO(A1.7): gate_proj, up_proj and down_proj as your parallel layers (keep the names:
        #   the tests compare each one's gradient with the full model's).
        raise NotImplementedError("TODO(A1.7): TensorParallelSwiGLU")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError("TODO(A1.7): TensorParallelSwiGLU.forward")
