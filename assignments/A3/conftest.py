"""Shared fixtures of A3's visible and hidden tests: the lab's micro Transformer and its
pieces. Each part is held to the lab stack's own where one exists (the loss mask to
``scalable_ai.post.chat.targets_of``, DPO to ``scalable_ai.post.dpo.preference_loss``, the
advantages to ``scalable_ai.post.rl_loss.group_advantages``), so a test says "as the lab
stack does it", and a bug in one part costs only that part."""

from __future__ import annotations

import pytest
import torch

from scalable_ai.model import Transformer
from scalable_ai.parallel.run import micro_config

pytest_plugins = ["scalable_ai.kits.plugin"]


def micro_model(seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(micro_config())


class Lab:
    micro_model = staticmethod(micro_model)


@pytest.fixture
def lab() -> type[Lab]:
    return Lab
