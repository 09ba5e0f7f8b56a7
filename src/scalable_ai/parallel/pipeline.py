"""Pipeline parallel with ``torch.distributed.pipelining``: layers split into ``pp`` stages,
the batch into micro-batches that flow through them.

GPipe (Huang et al. 2019) runs every micro-batch's forward, then every backward: simple,
but each stage keeps all micro-batches' activations. 1F1B (PipeDream-Flush, Narayanan et al.
2021) starts a micro-batch's backward as soon as the last stage has its loss, so a stage
holds at most ``pp`` micro-batches in flight. Both leave the same bubble,
``(pp - 1) / (microbatches + pp - 1)`` of the step idle, which more micro-batches shrink.

A stage is cut from the whole model from outside (torchtitan's manual split): the first
stage keeps the embedding, the last the final norm and head, each its share of blocks under
their original names (``layers.3`` stays ``layers.3``), so checkpoints and parameter names
match the single-process model.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.distributed.device_mesh import DeviceMesh
from torch.distributed.pipelining import PipelineStage, Schedule1F1B, ScheduleGPipe

SCHEDULES = {"gpipe": ScheduleGPipe, "1f1b": Schedule1F1B}


def stage_layers(n_layers: int, pp: int, stage: int) -> range:
    """Which blocks stage ``stage`` of ``pp`` holds: as even as possible, earlier stages
    taking the remainder (they also hold the embedding, the later ones the head)."""
    base, extra = divmod(n_layers, pp)
    start = stage * base + min(stage, extra)
    return range(start, start + base + (1 if stage < extra else 0))


class PipelineStageModel(nn.Module):
    """One stage of our Transformer: (embedding) -> its blocks -> (norm -> head)."""

    def __init__(self, model: nn.Module, layers: range, first: bool, last: bool) -> None:
        super().__init__()
        self.config = model.config
        self.rotary = model.rotary
        self.embed = model.embed if first else None
        self.layers = nn.ModuleDict({str(i): model.layers[i] for i in layers})
        self.norm = model.norm if last else None
        self.lm_head = model.lm_head if last else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hidden = self.embed(x) if self.embed is not None else x
        batch, length = hidden.shape[:2]
        positions = torch.arange(length, device=hidden.device).expand(batch, length)
        cos, sin = self.rotary(positions, hidden.dtype)
        for block in self.layers.values():
            hidden = block(hidden, self.rotary, cos, sin, None)
        if self.lm_head is not None:
            hidden = self.lm_head(self.norm(hidden))
        return hidden


def split_stage(model: nn.Module, pp_mesh: DeviceMesh) -> PipelineStageModel:
    """This rank's stage of ``model``."""
    pp, stage = pp_mesh.size(), pp_mesh.get_local_rank()
    layers = stage_layers(len(model.layers), pp, stage)
    return PipelineStageModel(model, layers, first=stage == 0, last=stage == pp - 1)


def build_schedule(
    stage_model: nn.Module,
    pp_mesh: DeviceMesh,
    device: torch.device,
    microbatches: int,
    schedule: str,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
):  # type: ignore[no-untyped-def]
    """A GPipe or 1F1B schedule for this rank's stage; ``step`` runs one batch."""
    pp, index = pp_mesh.size(), pp_mesh.get_local_rank()
    stage = PipelineStage(stage_model, index, pp, device, group=pp_mesh.get_group())
    return SCHEDULES[schedule](stage, n_microbatches=microbatches, loss_fn=loss_fn)
