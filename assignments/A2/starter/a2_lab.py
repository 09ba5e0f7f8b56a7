"""Given code (no TODO here): the lab stack pieces A2 builds on, at CPU size.

``micro_model`` is the course's Transformer at the size of the lab stack's own tests (2
layers, dim 32, 256 token ids); ``learnable_batches`` a token stream it can learn (a few
repeated phrases), cut into micro-batches, the same on every call.
"""

from __future__ import annotations

import torch

from scalable_ai.model import Transformer
from scalable_ai.parallel.run import micro_config


def micro_model(seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(micro_config())


def learnable_batches(
    steps: int, accumulation: int = 2, rows: int = 4, seq_len: int = 32, seed: int = 0
) -> list[list[tuple[torch.Tensor, torch.Tensor]]]:
    """``steps`` lists of ``accumulation`` micro-batches of (inputs, labels): windows of a
    stream that repeats eight random 16-token phrases in random order."""
    generator = torch.Generator().manual_seed(seed)
    phrases = torch.randint(0, 256, (8, 16), generator=generator)
    picks = torch.randint(
        0, 8, (steps * accumulation * rows * (seq_len // 16 + 2),), generator=generator
    )
    stream = phrases[picks].reshape(-1)
    out, cursor = [], 0
    for _ in range(steps):
        step = []
        for _ in range(accumulation):
            windows = torch.stack(
                [
                    stream[cursor + r * seq_len : cursor + r * seq_len + seq_len + 1]
                    for r in range(rows)
                ]
            )
            cursor += rows * seq_len
            step.append((windows[:, :-1], windows[:, 1:]))
        out.append(step)
    return out
