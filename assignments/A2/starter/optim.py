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
    # TODO(A2.7): the moments, their bias correction, decoupled decay; check against torch.optim.AdamW.
    raise NotImplementedError("TODO(A2.7): adamw_step")


def newton_schulz(matrix: torch.Tensor, steps: int = 5, eps: float = 1e-7) -> torch.Tensor:
    """Approximately ``U Vᵀ`` for ``matrix = U S Vᵀ`` (a 2-D float tensor)."""
    # TODO(A2.8): scale to norm 1, five quintic iterations on the wide orientation.
    raise NotImplementedError("TODO(A2.8): newton_schulz")


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
    raise NotImplementedError("TODO(A2.9): muon_step")
