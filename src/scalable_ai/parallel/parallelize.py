"""Apply a :class:`ParallelSpec` to a model, torchtitan's order: pipeline split, tensor
parallel, expert parallel, activation checkpointing, then FSDP (or DDP) over the data
dimensions. The result, :class:`ParallelModel`, runs one forward-backward on a global batch
and knows this rank's share of the data: the seam a trainer uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.distributed.algorithms._checkpoint.checkpoint_wrapper import checkpoint_wrapper
from torch.distributed.device_mesh import DeviceMesh

from scalable_ai.errors import UserError
from scalable_ai.parallel.context import ContextParallelAttention, shard_sequence
from scalable_ai.parallel.ddp import apply_ddp
from scalable_ai.parallel.expert import apply_expert_parallel
from scalable_ai.parallel.fsdp import apply_fsdp
from scalable_ai.parallel.mesh import data_mesh
from scalable_ai.parallel.pipeline import SCHEDULES, build_schedule, split_stage
from scalable_ai.parallel.spec import ParallelSpec
from scalable_ai.parallel.tensor import apply_tensor_parallel, apply_tensor_parallel_hf

DTYPES = {"f32": None, "bf16": torch.bfloat16, "f16": torch.float16}


@dataclass(frozen=True)
class ParallelOptions:
    """How to run the spec: pipeline schedule, FSDP precision and offload, checkpointing."""

    microbatches: int = 2
    schedule: str = "1f1b"
    param_dtype: str = "f32"  # FSDP's compute dtype; master weights stay f32
    reduce_dtype: str = "f32"
    cpu_offload: bool = False
    activation_checkpointing: bool = False
    sequence_parallel: bool = True

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise UserError(f"schedule must be one of {', '.join(SCHEDULES)}", field="schedule")
        for name in ("param_dtype", "reduce_dtype"):
            if getattr(self, name) not in DTYPES:
                raise UserError(f"must be one of {', '.join(DTYPES)}", field=name)


def token_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean next-token cross-entropy (labels already shifted; -100 ignored)."""
    return F.cross_entropy(logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)


def _blocks(model: nn.Module) -> list[nn.Module]:
    layers = model.layers
    return list(layers.values()) if isinstance(layers, nn.ModuleDict) else list(layers)


def _checkpoint_blocks(model: nn.Module) -> None:
    """Recompute each block's activations in backward instead of keeping them."""
    layers = model.layers
    for name, block in list(layers.named_children()):
        layers.register_module(name, checkpoint_wrapper(block))


class ParallelModel:
    """``model`` split by ``spec`` on ``mesh``; ``step`` is one forward-backward."""

    def __init__(
        self,
        model: nn.Module,
        spec: ParallelSpec,
        mesh: DeviceMesh,
        options: ParallelOptions | None = None,
        *,
        huggingface: bool = False,
    ) -> None:
        self.spec, self.mesh = spec, mesh
        self.options = options = options or ParallelOptions()
        self.huggingface = huggingface
        self.device = next(model.parameters()).device
        self.schedule = None
        self.backend = None
        if spec.pp > 1:
            if huggingface:
                raise UserError("pp is built for our Transformer only", field="parallel")
            model = split_stage(model, mesh["pp"])
        if spec.tp > 1:
            if huggingface:
                apply_tensor_parallel_hf(model, mesh["tp"])
            else:
                apply_tensor_parallel(model, mesh["tp"], options.sequence_parallel)
        expert_params = apply_expert_parallel(model, mesh["ep"]) if spec.ep > 1 else set()
        if options.activation_checkpointing:
            _checkpoint_blocks(model.model if huggingface else model)
        blocks = _blocks(model.model if huggingface else model)
        shard, replicate = spec.fsdp * spec.ep * spec.cp, spec.dp
        if shard == 1 and replicate > 1 and spec.tp == 1 and spec.pp == 1:
            apply_ddp(model, mesh["dp"])
        elif shard * replicate > 1:
            apply_fsdp(
                model,
                data_mesh(mesh, spec),
                blocks,
                param_dtype=DTYPES[options.param_dtype],
                reduce_dtype=DTYPES[options.reduce_dtype],
                cpu_offload=options.cpu_offload,
                reshard_after_forward=spec.pp == 1,
                ignored_params=expert_params,
            )
        self.model = model
        if spec.pp > 1:
            self.schedule = build_schedule(
                model, mesh["pp"], self.device, options.microbatches, options.schedule, token_loss
            )

    # ---- this rank's share of the data -----------------------------------------------------

    @property
    def data_rank(self) -> int:
        """Index of this rank's slice of the batch (0 .. data_world - 1)."""
        coordinate = {name: self.mesh[name].get_local_rank() for name in ("dp", "fsdp", "ep")}
        return (coordinate["dp"] * self.spec.fsdp + coordinate["fsdp"]) * self.spec.ep + coordinate[
            "ep"
        ]

    @property
    def data_world(self) -> int:
        return self.spec.data_shards

    @property
    def is_writer(self) -> bool:
        """Rank 0 writes the run (metrics, checkpoint metadata, plots)."""
        return not dist.is_initialized() or dist.get_rank() == 0

    def local_batch(self, tokens: torch.Tensor) -> torch.Tensor:
        """This rank's rows (data dims) and sequence chunks (cp) of a global batch."""
        rows = tokens.chunk(self.data_world, dim=0)[self.data_rank]
        if self.spec.cp > 1:
            rows = shard_sequence(rows, self.mesh["cp"].get_local_rank(), self.spec.cp)
        return rows

    # ---- one step ------------------------------------------------------------------------

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """Logits of this rank's (already local) inputs; not for pipeline parallel."""
        if self.spec.cp > 1:
            if self.backend is None or self.backend.positions.numel() != inputs.shape[1]:
                sliding = getattr(getattr(self.model, "config", None), "sliding_window", 0)
                self.backend = ContextParallelAttention(
                    self.mesh["cp"], inputs.shape[1] * self.spec.cp, sliding
                )
            positions = self.backend.batch_positions(inputs.shape[0], inputs.device)
            return self.model(inputs, positions=positions, backend=self.backend)
        if self.huggingface:
            return self.model(input_ids=inputs).logits
        return self.model(inputs)

    def step(self, inputs: torch.Tensor, labels: torch.Tensor) -> float:
        """Forward and backward on the global batch ``inputs``/``labels`` (B, T); returns
        the mean loss over all of it (the same number a single process computes)."""
        inputs, labels = self.local_batch(inputs), self.local_batch(labels)
        if self.schedule is not None:
            losses: list[torch.Tensor] = []
            stage = self.mesh["pp"].get_local_rank()
            last = stage == self.spec.pp - 1
            self.schedule.step(
                *((inputs,) if stage == 0 else ()), target=labels if last else None, losses=losses
            )
            local = torch.stack(losses).mean().detach() if last else torch.zeros(())
            held = torch.tensor(1.0 if last else 0.0)
        else:
            loss = token_loss(self.forward(inputs), labels)
            loss.backward()
            local, held = loss.detach(), torch.tensor(1.0)
        total = torch.stack([local.float().cpu() * held, held]).to(self.device)
        dist.all_reduce(total)
        return float(total[0] / total[1])
