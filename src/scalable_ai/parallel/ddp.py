"""Data parallel (DDP): every rank holds the whole model and sees other sequences; after
backward, gradients are all-reduced (averaged) in buckets while backward still runs, so the
communication hides behind the compute of earlier layers (Li et al., PyTorch Distributed,
VLDB 2020). ``replicate`` is the composable form of ``DistributedDataParallel``: the module
keeps its class and its parameter names.
"""

from __future__ import annotations

from torch import nn
from torch.distributed._composable import replicate
from torch.distributed.device_mesh import DeviceMesh


def apply_ddp(model: nn.Module, dp_mesh: DeviceMesh) -> None:
    """Replicate ``model`` over ``dp_mesh``; gradients averaged after each backward."""
    replicate(model, device_mesh=dp_mesh, bucket_cap_mb=25)
