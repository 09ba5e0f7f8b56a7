"""Shared fixtures of A2's visible and hidden tests: the lab's micro Transformer, its loss,
and a learnable token stream.

Each part is held to the lab stack's own piece where one exists (the schedule to
``scalable_ai.train.schedule.lr_factor``, AdamW to ``torch.optim.AdamW``, Muon to
``scalable_ai.train.optim.muon``, clipping to ``torch.nn.utils.clip_grad_norm_``), so a
test says "as the lab stack does it", and a bug in one part costs only that part.
"""

from __future__ import annotations

import pytest
import torch

from scalable_ai.model import Transformer
from scalable_ai.parallel.parallelize import token_loss
from scalable_ai.parallel.run import micro_config

pytest_plugins = ["scalable_ai.kits.plugin"]

TEXT = (
    "Pre-training reads trillions of tokens; the tokenizer decides how many. "
    "Byte pair encoding merges the most frequent pair again and again: th, the, the␣, "
    "and soon whole words are one token. Ünïcödé text stays bytes underneath. 1234567890. "
) * 6


def micro_model(seed: int = 0) -> Transformer:
    """The lab stack's micro Transformer (2 layers, dim 32, 4 heads, 256 token ids)."""
    torch.manual_seed(seed)
    return Transformer(micro_config())


def batch(rows: int = 8, length: int = 8, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed random (inputs, next-token labels)."""
    generator = torch.Generator().manual_seed(seed)
    stream = torch.randint(0, 256, (rows, length + 1), generator=generator)
    return stream[:, :-1], stream[:, 1:]


class Lab:
    micro_model = staticmethod(micro_model)
    batch = staticmethod(batch)
    token_loss = staticmethod(token_loss)
    TEXT = TEXT


@pytest.fixture
def lab() -> type[Lab]:
    return Lab
