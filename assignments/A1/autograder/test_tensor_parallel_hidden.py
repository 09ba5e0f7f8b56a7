"""Part 2, hidden: the lab model's SwiGLU feed-forward under tensor parallelism: outputs,
weight gradients and the input gradient against one process."""

import pytest
import torch


def _mlp(rank, world_size, module, lab):
    mlp = lab.micro_model(seed=0).layers[0].mlp  # the lab's SwiGLU: dim 32, hidden 64
    torch.manual_seed(5)
    x = torch.randn(2, 6, 32, requires_grad=True)
    parallel = module.TensorParallelSwiGLU(mlp, rank, world_size)
    out = parallel(x)
    (out * torch.linspace(-1, 1, 32)).sum().backward()
    grads = {name: p.grad.clone() for name, p in parallel.named_parameters()}
    return out.detach(), grads, x.grad.clone()


def _reference(lab):
    mlp = lab.micro_model(seed=0).layers[0].mlp
    torch.manual_seed(5)
    x = torch.randn(2, 6, 32, requires_grad=True)
    out = mlp(x)
    (out * torch.linspace(-1, 1, 32)).sum().backward()
    return mlp, out.detach(), x.grad.clone()


@pytest.mark.points(7)
def test_tensor_parallel_swiglu_matches_one_process(submission, lab):
    """On 4 ranks the split SwiGLU gives the full output on every rank, and each rank's weight
    gradients are its slices of the full ones (gate/up by rows, down by columns)."""
    module = submission.module("tensor_parallel")
    mlp, out, _ = _reference(lab)
    for rank, (local_out, grads, _) in enumerate(lab.world(_mlp, module, lab)):
        torch.testing.assert_close(local_out, out, atol=1e-5, rtol=1e-4, msg=f"rank {rank}")
        for name in ("gate_proj", "up_proj"):
            full = getattr(mlp, name).weight.grad.chunk(4, dim=0)[rank]
            torch.testing.assert_close(grads[f"{name}.weight"], full, atol=1e-5, rtol=1e-4)
        full = mlp.down_proj.weight.grad.chunk(4, dim=1)[rank]
        torch.testing.assert_close(grads["down_proj.weight"], full, atol=1e-5, rtol=1e-4)


@pytest.mark.points(6)
def test_input_gradient_is_complete(submission, lab):
    """The gradient reaching the input is the full one on every rank: each rank's column
    shard sees only part of dL/dx, so the copy operator f all-reduces it in backward."""
    module = submission.module("tensor_parallel")
    _, _, x_grad = _reference(lab)
    for rank, (_, _, local_x_grad) in enumerate(lab.world(_mlp, module, lab)):
        torch.testing.assert_close(local_x_grad, x_grad, atol=1e-5, rtol=1e-4, msg=f"rank {rank}")
