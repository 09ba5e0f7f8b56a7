"""Learning-rate schedules as pure functions of the step (nothing to save, nothing to drift).

``lr_factor(step)`` multiplies each parameter group's base learning rate. Step 0 is the first
optimizer step. Warmup is linear from ``1/warmup`` to 1 (Goyal et al. 2017), then:

- ``cosine``: half a cosine from 1 down to ``min_ratio`` at the last step (GPT-3, Brown et
  al. 2020; the nanoGPT/llm.c recipe).
- ``wsd``: warmup-stable-decay, flat at 1 until the last ``decay_fraction`` of the steps,
  then linear to ``min_ratio`` (MiniCPM, Hu et al. 2024; Hägele et al. 2024 show it matches
  cosine and lets a run be extended by branching before the decay).
- ``constant``: flat at 1 after warmup.
"""

from __future__ import annotations

import math


def lr_factor(
    step: int,
    total: int,
    warmup: int,
    kind: str = "cosine",
    min_ratio: float = 0.1,
    decay_fraction: float = 0.2,
) -> float:
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if kind == "constant":
        return 1.0
    if kind == "cosine":
        span = max(1, total - 1 - warmup)
        progress = min(1.0, (step - warmup) / span)
        return min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress))
    if kind == "wsd":
        decay_steps = max(1, round(decay_fraction * total))
        decay_start = total - decay_steps
        if step < decay_start:
            return 1.0
        progress = min(1.0, (step - decay_start + 1) / decay_steps)
        return 1.0 - (1.0 - min_ratio) * progress
    raise ValueError(f"unknown schedule {kind!r}")
