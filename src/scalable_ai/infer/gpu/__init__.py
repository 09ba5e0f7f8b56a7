"""The GPU decode step: Triton kernels (``kernels.py``) and the fused forward that the engine's
CUDA graphs capture (``decode.py``).

Used only on CUDA devices where Triton imports (it ships with PyTorch's CUDA wheels), for
dense models with the packed forward's shape; everything else keeps the PyTorch path.
``SAI_GPU_KERNELS=0`` turns the kernels off. With ``TRITON_INTERPRET=1`` Triton runs the same
kernels on CPU tensors, which is how the tests check them without a GPU.
"""

from __future__ import annotations

import os

import torch

from scalable_ai.settings import get_settings


def available(device: torch.device) -> bool:
    """Whether the Triton kernels can run on ``device`` here."""
    if not get_settings().gpu_kernels:
        return False
    if device.type != "cuda" and os.environ.get("TRITON_INTERPRET") != "1":
        return False
    try:
        import triton  # noqa: F401
    except ImportError:
        return False
    return True
