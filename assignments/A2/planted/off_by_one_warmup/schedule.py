"""Part 3 (lecture L9: optimizer fundamentals): the learning-rate schedule.

Linear warm-up from ``peak / warmup`` to ``peak`` over the first ``warmup`` steps (Goyal et
al. 2017: Adam's second moment is a poor estimate at first), then

* ``cosine``: half a cosine from ``peak`` to ``min_ratio * peak`` at the last step (GPT-3;
  the nanoGPT recipe);
* ``wsd``: warm-up, stable at ``peak``, then linear decay to ``min_ratio * peak`` over the
  last ``decay_fraction`` of the steps (MiniCPM, Hu et al. 2024).

Step 0 is the first optimizer step; ``total`` steps in all.
"""

from __future__ import annotations

import math


def learning_rate(
    step: int,
    total: int,
    warmup: int,
    peak: float,
    kind: str = "cosine",
    min_ratio: float = 0.1,
    decay_fraction: float = 0.2,
) -> float:
    """The learning rate of optimizer step ``step``."""
    if warmup > 0 and step < warmup:
        return peak * step / warmup  # PLANTED: the first step has learning rate 0
    if kind == "cosine":
        span = max(1, total - 1 - warmup)
        progress = min(1.0, (step - warmup) / span)
        return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress)))
    if kind == "wsd":
        decay_steps = max(1, round(decay_fraction * total))
        decay_start = total - decay_steps
        if step < decay_start:
            return peak
        progress = min(1.0, (step - decay_start + 1) / decay_steps)
        return peak * (1 - (1 - min_ratio) * progress)
    raise ValueError(f"unknown schedule {kind!r}")
