"""Part 4 (lectures L9–L10: optimizer fundamentals, emerging optimizers): AdamW and Muon,
one tensor at a time.

**AdamW** (Kingma and Ba 2015; Loshchilov and Hutter 2019): running means of the gradient
``m`` and of its square ``v``, bias-corrected for their zero start, step
``m̂ / (sqrt(v̂) + eps)``; weight decay shrinks the weight by ``lr * weight_decay`` apart
from that step (decoupled).

**Muon** (Jordan 2024; the modded-nanogpt speedruns) for hidden matrices: momentum, then
the update replaced by the nearest semi-orthogonal matrix ``U Vᵀ`` (``G = U S Vᵀ``),
approximated by five Newton–Schulz iterations of the quintic
``p(s) = a s + b s³ + c s⁵`` with ``(a, b, c) = (3.4445, -4.7750, 2.0315)`` after scaling
``G`` to Frobenius norm 1. The lab stack's ``scalable_ai/train/optim/muon.py`` is the
reference the tests hold yours to.
"""

from __future__ import annotations

from typing import Any

import torch

QUINTIC = (3.4445, -4.7750, 2.0315)


@torch.no_grad()
def adamw_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: dict[str, Any],
    *,
    lr: float,
    betas: tuple[float, float] = (0.9, 0.95),
    eps: float = 1e-8,
    weight_decay: float = 0.0,
) -> None:
    """One AdamW step of ``param`` in place; ``state`` (empty at first) keeps ``step``,
    ``exp_avg`` and ``exp_avg_sq`` between calls."""
    beta1, beta2 = betas
    if not state:
        state["step"] = 0
        state["exp_avg"] = torch.zeros_like(param)
        state["exp_avg_sq"] = torch.zeros_like(param)
    state["step"] += 1
    step = state["step"]
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    bias1 = 1.0  # PLANTED: no bias correction (the first steps are far too small)
    bias2_sqrt = 1.0
    param.mul_(1 - lr * weight_decay)
    param.addcdiv_(exp_avg, (exp_avg_sq.sqrt() / bias2_sqrt).add_(eps), value=-lr / bias1)


def newton_schulz(matrix: torch.Tensor, steps: int = 5, eps: float = 1e-7) -> torch.Tensor:
    """Approximately ``U Vᵀ`` for ``matrix = U S Vᵀ`` (a 2-D float tensor)."""
    a, b, c = QUINTIC
    x = matrix.float()
    tall = x.shape[0] > x.shape[1]
    if tall:
        x = x.T
    x = x / (x.norm() + eps)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    if tall:
        x = x.T
    return x.to(matrix.dtype)


@torch.no_grad()
def muon_step(
    param: torch.Tensor,
    grad: torch.Tensor,
    state: dict[str, Any],
    *,
    lr: float,
    momentum: float = 0.95,
    nesterov: bool = True,
    weight_decay: float = 0.0,
) -> None:
    """One Muon step of the matrix ``param`` in place (``state`` keeps ``momentum_buffer``):
    ``B ← μB + (1-μ)G``; direction ``(1-μ)G + μB`` (Nesterov) or ``B``; then
    ``W ← W(1 - lr·wd) - lr·sqrt(max(1, rows/cols))·NewtonSchulz(direction)``."""
    if "momentum_buffer" not in state:
        state["momentum_buffer"] = torch.zeros_like(grad)
    buffer = state["momentum_buffer"]
    buffer.lerp_(grad, 1 - momentum)
    direction = grad.lerp(buffer, momentum) if nesterov else buffer
    scale = max(1.0, param.shape[0] / param.shape[1]) ** 0.5
    param.mul_(1 - lr * weight_decay)
    param.add_(newton_schulz(direction), alpha=-lr * scale)
