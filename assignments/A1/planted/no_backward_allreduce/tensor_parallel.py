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
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad  # PLANTED: the partial input gradient is never summed over the ranks


class ReduceFromTensorParallel(torch.autograd.Function):
    """Megatron's ``g``: all-reduce forward, identity backward."""

    @staticmethod
    def forward(ctx, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        x = x.contiguous().clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad


def shard_rows(weight: torch.Tensor, rank: int, world: int) -> torch.Tensor:
    """Rank ``rank``'s contiguous share of ``weight``'s first axis (it must split evenly)."""
    if weight.shape[0] % world:
        raise ValueError(f"{weight.shape[0]} rows do not split over {world} ranks")
    return weight.chunk(world, dim=0)[rank].clone()


class ColumnParallelLinear(nn.Module):
    """``full``'s output features split over the ranks: input replicated, output sharded."""

    def __init__(self, full: nn.Linear, rank: int, world: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(shard_rows(full.weight.detach(), rank, world))
        self.bias = (
            nn.Parameter(shard_rows(full.bias.detach(), rank, world))
            if full.bias is not None
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(CopyToTensorParallel.apply(x), self.weight, self.bias)


class RowParallelLinear(nn.Module):
    """``full``'s input features split over the ranks: input sharded, output summed
    (replicated). The bias is added once, after the sum."""

    def __init__(self, full: nn.Linear, rank: int, world: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(shard_rows(full.weight.detach().t(), rank, world).t())
        self.bias = nn.Parameter(full.bias.detach().clone()) if full.bias is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = ReduceFromTensorParallel.apply(F.linear(x, self.weight))
        return out + self.bias if self.bias is not None else out


class TensorParallelSwiGLU(nn.Module):
    """The lab model's SwiGLU feed-forward (``scalable_ai.model.transformer.SwiGLU``) split over
    the ranks: gate and up column-parallel, down row-parallel."""

    def __init__(self, mlp: nn.Module, rank: int, world: int) -> None:
        super().__init__()
        self.gate_proj = ColumnParallelLinear(mlp.gate_proj, rank, world)
        self.up_proj = ColumnParallelLinear(mlp.up_proj, rank, world)
        self.down_proj = RowParallelLinear(mlp.down_proj, rank, world)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))
