"""Part 5 (lecture L6: the training loop): gradient accumulation and clipping.

One optimizer step over ``n`` micro-batches: each micro-batch's loss is divided by ``n``
before ``backward`` (gradients add up in ``.grad``, so the sum is the mean over the whole
batch, as if it had fit in memory at once); then the gradients' global L2 norm over all
parameters is computed and, when it exceeds ``max_norm``, every gradient is scaled by
``max_norm / (norm + 1e-6)`` (Pascanu et al. 2013; ``torch.nn.utils.clip_grad_norm_``), and
the optimizer steps. The lab stack's trainer does the same (``scalable_ai/train/trainer.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn


def clip_grad_norm(parameters: Iterable[nn.Parameter], max_norm: float) -> torch.Tensor:
    """Scale the gradients in place so their global L2 norm is at most ``max_norm``; return
    the norm before clipping."""
    grads = [p.grad for p in parameters if p.grad is not None]
    if not grads:
        return torch.tensor(0.0)
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    factor = max_norm / (norm + 1e-6)
    if factor < 1:
        for g in grads:
            g.mul_(factor)
    return norm


def train_step(
    model: nn.Module,
    micro_batches: list[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    max_norm: float = 1.0,
) -> tuple[float, float]:
    """One optimizer step over ``micro_batches`` of (inputs, labels); returns the mean loss
    and the gradient norm before clipping."""
    optimizer.zero_grad(set_to_none=True)
    total = 0.0
    for inputs, labels in micro_batches:
        loss = loss_fn(model(inputs), labels)
        loss.backward()  # PLANTED: the micro-batch losses are summed, not averaged
        total += loss.item()
    norm = clip_grad_norm(model.parameters(), max_norm)
    optimizer.step()
    return total / len(micro_batches), float(norm)
