"""Part 1b, hidden: the wrapper starts every rank from rank 0's weights, keeps working step
after step, and overlaps one all-reduce per bucket with the backward pass."""

import pytest
import torch
import torch.distributed as dist


def _two_steps(rank, world_size, module, lab):
    model = module.DataParallel(lab.micro_model(seed=rank), bucket_bytes=4096)  # seeds differ
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    inputs, labels = lab.batch(rows=8)
    rows = slice(rank * 2, rank * 2 + 2)
    for _ in range(2):
        optimizer.zero_grad()
        lab.token_loss(model(inputs[rows]), labels[rows]).backward()
        model.finish_gradient_sync()
        optimizer.step()
    return {name: p.detach().clone() for name, p in model.module.named_parameters()}


@pytest.mark.points(3)
def test_two_steps_from_rank_0_weights_match_one_process(submission, lab):
    """Ranks built with different seeds start from rank 0's weights (broadcast), and two SGD
    steps on 2 rows each end where one process gets with all 8 rows."""
    module = submission.module("ddp")
    reference = lab.micro_model(seed=0)
    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    inputs, labels = lab.batch(rows=8)
    for _ in range(2):
        optimizer.zero_grad()
        lab.token_loss(reference(inputs), labels).backward()
        optimizer.step()
    for rank, weights in enumerate(lab.world(_two_steps, module, lab)):
        for name, p in reference.named_parameters():
            torch.testing.assert_close(
                weights[name], p.detach(), atol=1e-5, rtol=1e-4, msg=f"rank {rank}: {name}"
            )


def _count_all_reduces(rank, world_size, module, lab):
    calls = {"during_backward": 0, "after": 0}
    phase = {"now": "after"}
    original = dist.all_reduce

    def counted(*args, **kwargs):
        calls[phase["now"]] += 1
        return original(*args, **kwargs)

    dist.all_reduce = counted
    model = module.DataParallel(lab.micro_model(seed=0), bucket_bytes=16384)
    inputs, labels = lab.batch(rows=8)
    loss = lab.token_loss(model(inputs[rank * 2 : rank * 2 + 2]), labels[rank * 2 : rank * 2 + 2])
    phase["now"] = "during_backward"
    loss.backward()
    phase["now"] = "after"
    model.finish_gradient_sync()
    buckets = module.build_buckets(list(model.module.parameters()), 16384)
    return calls, len(buckets)


@pytest.mark.points(5)
def test_one_all_reduce_per_bucket_started_during_backward(submission, lab):
    """With 16 KB buckets the micro model's gradients travel in one all-reduce per bucket, each
    started from a gradient hook while backward still runs (overlap), none after it."""
    module = submission.module("ddp")
    for rank, (calls, buckets) in enumerate(lab.world(_count_all_reduces, module, lab)):
        assert buckets > 2
        assert calls == {"during_backward": buckets, "after": 0}, (
            f"rank {rank}: {calls} all-reduce calls for {buckets} buckets"
        )
