"""Where the trainer meets parallelism: one object answers every "which process am I" question.

The trainer never calls ``torch.distributed`` itself. It asks a ``DistributedContext`` for
its rank and world size (the loader's share of the data), to wrap the model (DDP, FSDP2, a
tensor-parallel plan: ``parallel/`` subclasses this), to average a metric over ranks, to
skip gradient synchronisation on all but the last micro-batch, to gather full state dicts
for a checkpoint, and whether this process writes files (rank 0 only). The default is one
process, where every answer is the trivial one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass
class DistributedContext:
    """A single process; ``parallel/`` provides multi-process versions of these methods."""

    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        """Only the main process writes runs, metrics and checkpoints."""
        return self.rank == 0

    def device(self, requested: str) -> torch.device:
        """The device this process trains on (``auto``: the first GPU, else the CPU)."""
        if requested == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(requested)

    def wrap_model(self, model: nn.Module) -> nn.Module:
        """The module the loop calls forward on (DDP/FSDP wrap here); ``model`` stays the
        plain ``Transformer`` for config, checkpoints and sampling."""
        return model

    @contextlib.contextmanager
    def accumulating(self, wrapped: nn.Module, last_micro_batch: bool) -> Iterator[None]:
        """Around one micro-batch's backward: DDP skips the all-reduce unless it is the last."""
        yield

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The average of a scalar over ranks (the logged loss is the whole batch's)."""
        return value

    def model_state_dict(self, model: nn.Module, wrapped: nn.Module) -> dict[str, torch.Tensor]:
        """The full (unsharded) weights, on the main rank."""
        return model.state_dict()

    def optimizer_state_dict(
        self, wrapped: nn.Module, optimizer: torch.optim.Optimizer
    ) -> dict[str, Any]:
        return optimizer.state_dict()

    def load_optimizer_state_dict(
        self, wrapped: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]
    ) -> None:
        optimizer.load_state_dict(state)

    def barrier(self) -> None:
        """Wait for every rank (after rank 0 wrote a checkpoint)."""
