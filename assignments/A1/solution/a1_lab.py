"""Given code (no TODO here): the lab stack pieces A1 builds on, at CPU size.

``run_world(4, fn, *args)`` runs ``fn(rank, world_size, *args)`` on 4 processes joined in
one gloo group (``scalable_ai.kits.world``: forked from this process, so a world starts in a
fraction of a second) and returns their results in rank order: every distributed piece of
this assignment runs on a laptop CPU this way. ``micro_model`` is the course's Transformer at
the size the lab stack's own parallel equivalence tests use.
"""

from __future__ import annotations

import torch

from scalable_ai.kits.world import WorldFailed, run_world
from scalable_ai.model import Transformer
from scalable_ai.parallel.run import micro_config

__all__ = ["WorldFailed", "micro_model", "run_world"]


def micro_model(seed: int = 0, **overrides: object) -> Transformer:
    """2 layers, dim 32, 4 heads (``n_experts=8`` makes every feed-forward an MoE)."""
    torch.manual_seed(seed)
    return Transformer(micro_config(**overrides))
