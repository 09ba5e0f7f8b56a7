"""Muon: momentum orthogonalized by Newton–Schulz, for the hidden weight matrices.

Keller Jordan, "Muon: An optimizer for hidden layers in neural networks" (2024,
https://kellerjordan.github.io/posts/muon/) and the modded-nanogpt speedruns
(https://github.com/KellerJordan/modded-nanogpt). For each hidden matrix W with gradient G:

    B  <- mu * B + (1 - mu) * G                       momentum (an EMA, as modded-nanogpt)
    M  <- (1 - mu) * G + mu * B   (Nesterov)  or  B
    O  <- NewtonSchulz5(M)  ~  U V^T  where  M = U S V^T
    W  <- W * (1 - lr * wd)  -  lr * sqrt(max(1, rows / cols)) * O

Replacing M by the nearest semi-orthogonal matrix gives every direction M moves in the same
step size, so the rare directions a raw gradient under-weights are learned too. Newton–
Schulz needs only matmuls (fast in bf16 on a GPU): after scaling M so its singular values
are <= 1, each iteration applies p(s) = a s + b s^3 + c s^5 to all singular values at once.
The quintic's coefficients (3.4445, -4.7750, 2.0315) maximise the slope at 0 so that five
steps lift even tiny singular values towards 1; the price is that they land in roughly
[0.7, 1.2] instead of exactly on 1, which the write-up found not to hurt. The
``sqrt(max(1, rows/cols))`` factor keeps the update's RMS per entry alike for tall and wide
matrices (modded-nanogpt's shape scaling).

Embeddings, the output head and the 1-D norm gains are not hidden matrices (an embedding
row is a lookup, not a linear map to orthogonalize): as in the write-up they take AdamW, in
groups of this same optimizer marked ``use_muon=False``, so the trainer holds one optimizer
with one ``state_dict``. ``torch.optim.Muon`` exists but accepts 2-D parameters only (our
MoE experts are 3-D batches of matrices) and would need a second optimizer beside it; its
update is this module's reference in the tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

from scalable_ai.train.optim.adamw import adamw_step
from scalable_ai.train.optim.sharding import full_tensor, shard_like

QUINTIC_COEFFICIENTS = (3.4445, -4.7750, 2.0315)


def newton_schulz(
    matrix: torch.Tensor,
    steps: int = 5,
    coefficients: tuple[float, float, float] = QUINTIC_COEFFICIENTS,
    compute_dtype: torch.dtype | None = None,
    eps: float = 1e-7,
) -> torch.Tensor:
    """Approximately ``U V^T`` for ``matrix = U S V^T`` (its "zeroth power").

    ``matrix`` is one whole (..., rows, cols) tensor; leading dimensions are a batch of
    matrices (MoE experts). Dividing by the Frobenius norm, which bounds the spectral norm,
    puts every singular value in [0, 1] where the polynomial iteration converges. The
    iteration works on the wide orientation (rows <= cols) so the Gram matrix is the small
    one. ``compute_dtype`` defaults to bf16 on CUDA (as modded-nanogpt) and f32 elsewhere
    (bf16 matmuls are slow on CPUs without AMX).
    """
    if matrix.dim() < 2:
        raise ValueError(f"Newton-Schulz needs a matrix, got shape {tuple(matrix.shape)}")
    if compute_dtype is None:
        compute_dtype = torch.bfloat16 if matrix.is_cuda else torch.float32
    a, b, c = coefficients
    x = matrix.to(compute_dtype)
    tall = x.size(-2) > x.size(-1)
    if tall:
        x = x.mT
    x = x / (x.norm(dim=(-2, -1), keepdim=True) + eps)
    for _ in range(steps):
        gram = x @ x.mT
        x = a * x + (b * gram + c * gram @ gram) @ x
    if tall:
        x = x.mT
    return x.to(matrix.dtype)


def shape_scale(param: torch.Tensor) -> float:
    """modded-nanogpt's ``sqrt(max(1, rows / cols))`` learning-rate factor for a matrix."""
    return max(1.0, param.size(-2) / param.size(-1)) ** 0.5


class Muon(torch.optim.Optimizer):
    """Muon for groups with ``use_muon=True`` (hidden matrices), AdamW for the others.

    Settings per group: ``lr``, ``weight_decay`` (decoupled), and for Muon groups
    ``momentum``, ``nesterov``, ``ns_steps``; for AdamW groups ``betas`` and ``eps``.
    State per Muon matrix: ``momentum_buffer``; per AdamW tensor: ``step``, ``exp_avg``,
    ``exp_avg_sq``. Both go through ``state_dict``/``load_state_dict`` unchanged.
    """

    def __init__(
        self,
        params: Iterable[dict[str, Any]],
        lr: float = 0.02,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_steps: int = 5,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.95),
        eps: float = 1e-8,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            nesterov=nesterov,
            ns_steps=ns_steps,
            weight_decay=weight_decay,
            betas=betas,
            eps=eps,
            use_muon=True,
        )
        super().__init__(list(params), defaults)
        for group in self.param_groups:
            if group["use_muon"] and any(p.dim() < 2 for p in group["params"]):
                raise ValueError("Muon groups take matrices only; give 1-D tensors to AdamW")

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for param in group["params"]:
                if param.grad is None:
                    continue
                if group["use_muon"]:
                    muon_step(param, group, self.state[param])
                else:
                    adamw_step(param, group, self.state[param])
        return loss


def muon_step(param: torch.Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
    """One Muon step of a hidden matrix (see the module docstring for the formula)."""
    grad = param.grad
    assert grad is not None
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = torch.zeros_like(grad, memory_format=torch.preserve_format)
    buffer = state["momentum_buffer"]
    momentum = group["momentum"]
    buffer.lerp_(grad, 1 - momentum)
    direction = grad.lerp(buffer, momentum) if group["nesterov"] else buffer
    orthogonal = shard_like(newton_schulz(full_tensor(direction), group["ns_steps"]), direction)
    param.mul_(1 - group["lr"] * group["weight_decay"])
    param.add_(orthogonal, alpha=-group["lr"] * shape_scale(param))
