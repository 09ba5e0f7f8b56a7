"""Part 1a, visible: ring all-reduce (lecture: data parallelism)."""

import pytest
import torch


def _ring_sum(rank, world_size, module, numel):
    tensor = torch.arange(numel, dtype=torch.float32) * (rank + 1)
    module.ring_all_reduce(tensor)
    return tensor


@pytest.mark.points(5)
def test_ring_sums_over_four_ranks(submission, lab):
    """After ring_all_reduce every rank of 4 holds the sum of all ranks' tensors (10 elements:
    the 4 chunks are uneven)."""
    module = submission.module("ring_allreduce")
    results = lab.world(_ring_sum, module, 10)
    expected = torch.arange(10, dtype=torch.float32) * (1 + 2 + 3 + 4)
    for rank, tensor in enumerate(results):
        torch.testing.assert_close(tensor, expected, msg=f"rank {rank}")
