"""The engine's forward paths: which ones this machine can run, and which one it picks.

Every path computes the same function (the model's ``forward``); they differ in how the
matrix products and attention are carried out, and so in speed and rounding:

==================== ===== ===================================================================
path                 dtype how a step is computed
==================== ===== ===================================================================
native-avx512bf16    bf16  the whole step in C (``cpu/forward.c``), AVX512-BF16 ``vdpbf16ps``
native-avx2          bf16  the same C, AVX2 FMA products on bf16 widened to f32
native-portable      bf16  the same C, plain loops (any CPU with a C compiler)
packed-onednn-f16    bf16  fused PyTorch forward (``packed_model``): oneDNN-prepacked bf16
                           products, float16 copies for steps of a single token
packed-onednn        bf16  the same, oneDNN-prepacked bf16 products for every step
packed-torch         any   the same, ``F.linear`` on the weights as they are
model                any   the model's own ``forward`` with the paged attention backend
==================== ===== ===================================================================

``auto`` picks from a table keyed by the CPU's features (below, :func:`auto_path`), then
falls back along the list to the first path the model and machine support. ``SAI_FORWARD_PATH``
(or ``EngineConfig.forward_path``) forces one for debugging and benchmarking: a forced path
the machine or model cannot run is a :class:`UserError`, never a silent substitution.
``sai doctor`` prints the features, the runnable paths and the choice per dtype;
``tests/infer/test_product_paths.py`` checks every runnable path against the float32 model.

The table, bf16 on a CPU (SmolLM2-135M, CPU time, 1 thread; ``bench/RESULTS.md``):

- ``avx512_bf16`` (AMD Zen 4, Intel Sapphire Rapids and later): ``native-avx512bf16``. On the
  AMD EPYC it was the fastest decode measured (2026-11-26; 1.3-2.7x oneDNN's prepacked product
  per matrix). On the Intel Xeon with AMX (2026-12-04, ``bench/forward_paths.py``) it decodes
  one stream 2.2x faster than oneDNN (41 vs 18 tokens per CPU-second) and 16 streams about as
  fast (255 vs 234-268), while oneDNN's AMX products prefill 2.3x faster (834 vs 368): decode
  is most of generation, so AMX does not change the choice (a prefill-on-oneDNN,
  decode-in-C split would take both; not built).
- otherwise: ``packed-onednn-f16``. The AVX2 C build decoded one stream 1.6x faster than
  PyTorch but 16 streams 0.8x as fast, and the portable build is slower throughout.

float32 on a CPU and every dtype on a GPU: ``packed-torch`` (a GPU adds CUDA graphs on top).
"""

from __future__ import annotations

import functools
import platform
from pathlib import Path

import torch
from torch import nn

from scalable_ai.errors import UserError

PATHS = (
    "native-avx512bf16",
    "native-avx2",
    "native-portable",
    "packed-onednn-f16",
    "packed-onednn",
    "packed-torch",
    "model",
)
#: Native paths: the kernel kind ``forward.c`` reports when built for them.
NATIVE_KINDS = {"native-avx512bf16": 2, "native-avx2": 1, "native-portable": 0}
#: CPU feature flags worth reporting (Linux ``/proc/cpuinfo`` names).
REPORTED_FEATURES = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16")


def _cpuinfo_field(*names: str) -> str | None:
    """The first ``/proc/cpuinfo`` line's value for one of ``names`` (None off Linux)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(names):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


@functools.cache
def cpu_features() -> frozenset[str]:
    """The CPU's feature flags as Linux names them (empty where /proc/cpuinfo is absent)."""
    return frozenset((_cpuinfo_field("flags", "Features") or "").split())


@functools.cache
def cpu_model() -> str:
    """The CPU's marketing name (``model name``), what a benchmark figure is labelled with."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


def auto_path(dtype: torch.dtype, device_type: str, features: frozenset[str]) -> str:
    """The table in the module docstring: the fastest path for a dense model."""
    if device_type != "cpu" or dtype != torch.bfloat16:
        return "packed-torch"
    if "avx512_bf16" in features:
        return "native-avx512bf16"
    return "packed-onednn-f16"


def model_dtype(model: nn.Module) -> torch.dtype:
    """The dtype of a model of the family (its embedding's, the seam's documented layout)."""
    return model.get_parameter("embed.weight").dtype


def onednn_bf16_available() -> bool:
    """Whether this torch has oneDNN and its prepacked bf16 product runs on this CPU."""
    from scalable_ai.infer.packed_model import onednn_bf16_available as available

    return available()


def unavailable_reason(path: str, model: nn.Module, cache_device: torch.device) -> str | None:
    """Why ``path`` cannot run ``model`` here, or None when it can."""
    from scalable_ai.infer import cpu
    from scalable_ai.infer.cpu.native import supports as native_supports
    from scalable_ai.infer.packed_model import supports as packed_supports

    if path not in PATHS:
        return f"unknown forward path {path!r}; one of auto, {', '.join(PATHS)}"
    dtype = model_dtype(model)
    on_cpu = cache_device.type == "cpu"
    if path in NATIVE_KINDS:
        if not on_cpu or dtype != torch.bfloat16:
            return "the native C forward runs bf16 models on a CPU only"
        if not native_supports(model):
            return "the native C forward covers dense SwiGLU models without biases only"
        if cpu.library_for(NATIVE_KINDS[path]) is None:
            return f"{path} cannot be built here ({cpu.why_unbuilt(NATIVE_KINDS[path])})"
        return None
    if path.startswith("packed") and not packed_supports(model):
        return "the packed forward covers dense, full-attention, half-split-RoPE models only"
    if path.startswith("packed-onednn"):
        if not on_cpu or dtype != torch.bfloat16:
            return "oneDNN-prepacked products are for bf16 models on a CPU"
        if not onednn_bf16_available():
            return "this torch's oneDNN cannot run prepacked bf16 products on this CPU"
    return None


def choose_path(model: nn.Module, cache_device: torch.device, asked: str = "auto") -> str:
    """The path to run: ``asked`` if it can run (else a UserError), or for ``auto`` the
    table's choice, falling back along :data:`PATHS` to the first that can."""
    if asked != "auto":
        reason = unavailable_reason(asked, model, cache_device)
        if reason is not None:
            raise UserError(reason, field="forward_path")
        return asked
    dtype = model_dtype(model)
    first = auto_path(dtype, cache_device.type, cpu_features())
    for path in PATHS[PATHS.index(first) :]:
        if unavailable_reason(path, model, cache_device) is None:
            return path
    return "model"


def runnable_paths(model: nn.Module, cache_device: torch.device) -> dict[str, str | None]:
    """Every path, with None where it runs here or the reason it does not."""
    return {path: unavailable_reason(path, model, cache_device) for path in PATHS}
