"""AdamW: torch's own optimizer, plus the per-tensor Adam step Muon and SOAP share.

Adam (Kingma & Ba 2015) keeps running means of the gradient (m) and of its square (v) and
steps by ``m_hat / (sqrt(v_hat) + eps)``; AdamW (Loshchilov & Hutter 2019) shrinks the
weights by ``lr * weight_decay`` apart from that step ("decoupled" decay). Only matrices and
embeddings decay: pulling a norm's gain towards 0 fights the normalization it exists for.

The model's AdamW is ``torch.optim.AdamW`` itself (its foreach/fused kernels are faster than
anything written here). ``adam_direction`` is the same update for one tensor, written out so
that Muon's AdamW groups and SOAP's rotated Adam (which must step in another basis) share
one audited formula; a unit test holds it to ``torch.optim.AdamW``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch


def adamw(
    param_groups: Sequence[dict[str, Any]],
    lr: float,
    betas: tuple[float, float],
    eps: float,
) -> torch.optim.AdamW:
    """``torch.optim.AdamW`` over groups that already carry their own ``weight_decay``."""
    return torch.optim.AdamW(list(param_groups), lr=lr, betas=betas, eps=eps)


def adam_direction(
    grad: torch.Tensor,
    state: dict[str, Any],
    step: int,
    betas: tuple[float, float],
    eps: float,
) -> torch.Tensor:
    """Update ``state``'s moments with ``grad`` and return Adam's bias-corrected direction.

    ``state`` holds ``exp_avg`` and ``exp_avg_sq`` (created as zeros on first use); ``step``
    counts from 1 and sets the bias corrections ``1 - beta**step`` that undo the zero start.
    The ops are torch's single-tensor AdamW's, in its order, so the result matches it.
    """
    beta1, beta2 = betas
    if "exp_avg" not in state:
        state["exp_avg"] = torch.zeros_like(grad, memory_format=torch.preserve_format)
        state["exp_avg_sq"] = torch.zeros_like(grad, memory_format=torch.preserve_format)
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    bias_correction1 = 1 - beta1**step
    bias_correction2_sqrt = (1 - beta2**step) ** 0.5
    denominator = (exp_avg_sq.sqrt() / bias_correction2_sqrt).add_(eps)
    return exp_avg / denominator / bias_correction1


def count_step(state: dict[str, Any]) -> int:
    """Advance and return ``state["step"]``, kept as a CPU float tensor as torch's AdamW
    keeps it, so every optimizer's state saves and loads the same way."""
    if "step" not in state:
        state["step"] = torch.tensor(0.0)
    state["step"] += 1
    return int(state["step"].item())


def adamw_step(param: torch.Tensor, group: dict[str, Any], state: dict[str, Any]) -> None:
    """One AdamW step of ``param`` (its ``.grad`` set) with the settings of ``group``."""
    assert param.grad is not None
    step = count_step(state)
    direction = adam_direction(param.grad, state, step, group["betas"], group["eps"])
    param.mul_(1 - group["lr"] * group["weight_decay"])
    param.add_(direction, alpha=-group["lr"])
