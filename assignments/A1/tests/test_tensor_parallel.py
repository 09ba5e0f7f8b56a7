"""Part 2, visible: column- and row-parallel linear layers (lecture: tensor parallelism;
Megatron-LM, Shoeybi et al. 2019)."""

import pytest
import torch
from torch import nn


def _column(rank, world_size, module):
    torch.manual_seed(0)
    full = nn.Linear(16, 32)
    x = torch.randn(3, 16)
    return module.ColumnParallelLinear(full, rank, world_size)(x).detach(), full(x).detach()


def _row(rank, world_size, module):
    torch.manual_seed(0)
    full = nn.Linear(32, 16)
    x = torch.randn(3, 32)
    local = x.chunk(world_size, dim=-1)[rank]
    return module.RowParallelLinear(full, rank, world_size)(local).detach(), full(x).detach()


@pytest.mark.points(6)
def test_column_parallel_forward_is_a_slice(submission, lab):
    """Rank r of 4 computes output features r*8 .. r*8+7 of the full layer, bias included."""
    module = submission.module("tensor_parallel")
    for rank, (local, full) in enumerate(lab.world(_column, module)):
        torch.testing.assert_close(local, full.chunk(4, dim=-1)[rank], msg=f"rank {rank}")


@pytest.mark.points(6)
def test_row_parallel_forward_sums_the_partials(submission, lab):
    """Each rank multiplies its quarter of the input features; after the forward all-reduce
    every rank holds the full layer's output, bias added once."""
    module = submission.module("tensor_parallel")
    for rank, (out, full) in enumerate(lab.world(_row, module)):
        torch.testing.assert_close(out, full, atol=1e-5, rtol=1e-5, msg=f"rank {rank}")
