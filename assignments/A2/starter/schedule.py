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
    # TODO(A2.6): warm-up, then cosine or wsd; the tests hold it to scalable_ai.train.schedule.
    raise NotImplementedError("TODO(A2.6): learning_rate")
