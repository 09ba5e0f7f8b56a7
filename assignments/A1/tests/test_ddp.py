"""Part 1b, visible: gradient buckets and the data-parallel wrapper (lecture: data
parallelism; Li et al., PyTorch Distributed, VLDB 2020)."""

import pytest
import torch
from torch import nn


@pytest.mark.points(4)
def test_buckets_follow_backward_order(submission):
    """Buckets hold parameters last-to-first, each within the byte cap (a parameter larger than
    the cap alone), and skip frozen parameters."""
    build_buckets = submission.module("ddp").build_buckets
    sizes = [4, 4, 16, 2, 2, 2]  # float32 elements: 16, 16, 64, 8, 8, 8 bytes
    params = [nn.Parameter(torch.zeros(n)) for n in sizes]
    assert build_buckets(params, bucket_bytes=16) == [[5, 4], [3], [2], [1], [0]]
    assert build_buckets(params, bucket_bytes=1000) == [[5, 4, 3, 2, 1, 0]]
    params[3].requires_grad_(False)
    assert build_buckets(params, bucket_bytes=16) == [[5, 4], [2], [1], [0]]


def _ddp_gradients(rank, world_size, module, lab, bucket_bytes):
    model = module.DataParallel(lab.micro_model(seed=0), bucket_bytes=bucket_bytes)
    inputs, labels = lab.batch(rows=8)
    rows = slice(rank * 2, rank * 2 + 2)
    lab.token_loss(model(inputs[rows]), labels[rows]).backward()
    model.finish_gradient_sync()
    return {name: p.grad.clone() for name, p in model.module.named_parameters()}


@pytest.mark.points(5)
def test_data_parallel_matches_one_process(submission, lab):
    """Four ranks with 2 rows each end with the gradients one process gets for all 8 rows."""
    module = submission.module("ddp")
    reference = lab.micro_model(seed=0)
    inputs, labels = lab.batch(rows=8)
    lab.token_loss(reference(inputs), labels).backward()
    for rank, grads in enumerate(lab.world(_ddp_gradients, module, lab, 4096)):
        for name, p in reference.named_parameters():
            torch.testing.assert_close(
                grads[name], p.grad, atol=2e-6, rtol=1e-4, msg=f"rank {rank}: {name}"
            )
