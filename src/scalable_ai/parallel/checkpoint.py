"""Distributed checkpoints that outlive their layout (``torch.distributed.checkpoint``).

Each rank writes only its shards, with metadata saying which slice of which whole tensor
each one is; loading reads, for every tensor of the new layout, the slices it needs. So a
checkpoint saved under ``fsdp=2`` loads under ``tp=2`` or into one process: the names are
the single-process model's, the layout is only how they were cut.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
import torch.distributed.checkpoint as dcp
from torch import nn
from torch.distributed.checkpoint.state_dict import get_model_state_dict, set_model_state_dict
from torch.distributed.tensor import DTensor

WRAPPER_PREFIXES = ("_checkpoint_wrapped_module.", "_fsdp_wrapped_module.", "module.")


def plain_name(name: str) -> str:
    """A parameter's name in the single-process model (wrappers' prefixes removed)."""
    for prefix in WRAPPER_PREFIXES:
        name = name.replace(prefix, "")
    return name


def gathered_parameters(model: nn.Module) -> dict[str, torch.Tensor]:
    """Every parameter this rank's model part holds, whole (a collective on DTensors:
    every rank of the part's meshes must call it)."""
    result = {}
    for name, parameter in model.named_parameters():
        tensor = parameter.full_tensor() if isinstance(parameter, DTensor) else parameter
        result[plain_name(name)] = tensor.detach().float().cpu().clone()
    return result


def save(model: nn.Module, folder: Path) -> None:
    """Write this rank's shards of ``model`` into ``folder`` (every rank calls it)."""
    dcp.save(get_model_state_dict(model), checkpoint_id=str(folder))


def load(model: nn.Module, folder: Path) -> None:
    """Fill ``model`` (any layout, or one process) from a checkpoint of any layout."""
    state = get_model_state_dict(model)
    with warnings.catch_warnings():
        # without a process group DCP reads in this one process, which is what we want here
        warnings.filterwarnings("ignore", message="torch.distributed is disabled")
        dcp.load(state, checkpoint_id=str(folder))
    set_model_state_dict(model, state)
