"""``sai train --parallel SPEC``: the trainer's :class:`DistributedContext` for a parallel spec.

The trainer asks its context for its share of the data, to wrap the model, to average a
metric, and whether it writes. Here the wrap is :class:`ParallelModel`'s (DDP, FSDP2, tensor
parallel, expert parallel, in place, so the trainer's ``model`` holds the sharded
parameters its optimizer steps); the data share is the rank's place among the ``dp x fsdp x
ep`` data shards (tensor-parallel ranks read the same rows); global rank 0 writes the run
and the checkpoints, which are gathered whole so ``sai serve`` loads them as they are.

Pipeline and context parallel change what one step is (micro-batch schedules, sequence
chunks), so the trainer's loop takes neither; ``ParallelModel.step`` runs them.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_optimizer_state_dict,
)
from torch.distributed.fsdp import FSDPModule

from scalable_ai.errors import UserError
from scalable_ai.model.config import ModelConfig
from scalable_ai.parallel.mesh import build_mesh, device_type, init_process_group
from scalable_ai.parallel.parallelize import ParallelModel, ParallelOptions
from scalable_ai.parallel.spec import ParallelSpec, check_spec
from scalable_ai.train.context import DistributedContext

FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)


class ParallelTrainContext(DistributedContext):
    """One rank of a parallel training job (the process group comes from torchrun)."""

    def __init__(
        self,
        spec: ParallelSpec,
        config: ModelConfig,
        batch_size: int,
        seq_len: int,
        options: ParallelOptions | None = None,
    ) -> None:
        if spec.pp > 1 or spec.cp > 1:
            raise UserError(
                "sai train splits by dp, fsdp, tp and ep; pp and cp run through "
                "ParallelModel.step (python -m scalable_ai.parallel.run)",
                field="parallel",
            )
        init_process_group()
        check_spec(
            spec,
            config,
            world_size=dist.get_world_size(),
            batch_size=batch_size * spec.data_shards,
            seq_len=seq_len,
        )
        self.spec, self.options = spec, options or ParallelOptions()
        self.mesh = build_mesh(spec)
        self.parallel: ParallelModel | None = None
        coordinate = {name: self.mesh[name].get_local_rank() for name in ("dp", "fsdp", "ep")}
        data_rank = (coordinate["dp"] * spec.fsdp + coordinate["fsdp"]) * spec.ep + coordinate["ep"]
        super().__init__(rank=data_rank, world_size=spec.data_shards)

    @property
    def is_main(self) -> bool:
        return dist.get_rank() == 0

    def device(self, requested: str) -> torch.device:
        if device_type() == "cuda" and requested in ("auto", "cuda"):
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        return torch.device("cpu")

    def wrap_model(self, model: nn.Module) -> nn.Module:
        self.parallel = ParallelModel(model, self.spec, self.mesh, self.options)
        return self.parallel.model

    @contextlib.contextmanager
    def accumulating(self, wrapped: nn.Module, last_micro_batch: bool) -> Iterator[None]:
        """FSDP reduce-scatters only after the last micro-batch's backward."""
        if isinstance(wrapped, FSDPModule):
            wrapped.set_requires_gradient_sync(last_micro_batch)
        yield

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        averaged = value.detach().clone()
        dist.all_reduce(averaged, op=dist.ReduceOp.SUM)
        return averaged / dist.get_world_size()

    def model_state_dict(self, model: nn.Module, wrapped: nn.Module) -> dict[str, torch.Tensor]:
        return get_model_state_dict(wrapped, options=FULL)

    def optimizer_state_dict(
        self, wrapped: nn.Module, optimizer: torch.optim.Optimizer
    ) -> dict[str, Any]:
        return get_optimizer_state_dict(wrapped, optimizer, options=FULL)

    def load_optimizer_state_dict(
        self, wrapped: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]
    ) -> None:
        set_optimizer_state_dict(
            wrapped,
            optimizer,
            state,
            options=StateDictOptions(full_state_dict=True, broadcast_from_rank0=True),
        )

    def barrier(self) -> None:
        dist.barrier()


def parallel_train_context(spec: str, config: Any) -> ParallelTrainContext:
    """The context for ``sai train --parallel SPEC`` and a resolved ``TrainConfig``.

    The end-of-run sample is switched off: it runs the inference engine on rank 0 alone,
    and sharded weights need every rank for a forward. The checkpoint is gathered whole, so
    ``sai generate`` or ``sai serve`` on it gives the sample instead.
    """
    config.train.sample_tokens = 0
    return ParallelTrainContext(
        ParallelSpec.parse(spec), config.model, config.train.batch_size, config.data.seq_len
    )
