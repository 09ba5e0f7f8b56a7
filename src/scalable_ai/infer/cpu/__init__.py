"""The native CPU forward pass (``forward.c``): build once per machine, load, call.

The C file is compiled with the machine's C compiler (``cc``, ``-O3 -march=native``) on first
use, into a cache folder keyed by the source, the compiler and the CPU's feature flags, so a
second process (or a test worker) loads it in milliseconds. No compiler, a failed build, or
``SAI_CPU_KERNELS=0`` means :func:`load_library` returns None and the engine keeps the
PyTorch forward: the native path is an accelerator, never a requirement.

Calls go through ``ctypes``, which releases the GIL for the length of a step, so the
server's event loop keeps streaming while the model runs.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import torch

from scalable_ai.settings import get_settings

SOURCE = Path(__file__).with_name("forward.c")
FLAGS = ["-O3", "-march=native", "-fPIC", "-shared", "-pthread", "-std=gnu11"]

_p = ctypes.c_void_p
_i = ctypes.c_int


def cache_dir() -> Path:
    """Where built libraries live: ``SAI_KERNEL_CACHE``, else the user's cache folder."""
    if folder := get_settings().kernel_cache:
        return folder
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "scalable-ai" / "kernels"


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line
    except OSError:
        pass
    return platform.processor()


def _compiler() -> str | None:
    return os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")


@functools.cache
def load_library() -> ctypes.CDLL | None:
    """The compiled ``forward.c``, building it if needed; None when that is impossible."""
    if not get_settings().cpu_kernels or platform.system() != "Linux":
        return None
    return build_library(FLAGS)


def build_library(flags: list[str]) -> ctypes.CDLL | None:
    """``forward.c`` compiled with ``flags`` (cached by source, flags, compiler and CPU)."""
    compiler = _compiler()
    if compiler is None:
        return None
    try:
        version = subprocess.run(
            [compiler, "--version"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    key = hashlib.sha256(
        "\0".join(
            [SOURCE.read_text(), " ".join(flags), version, platform.machine(), _cpu_flags()]
        ).encode()
    ).hexdigest()[:16]
    target = cache_dir() / f"forward-{key}.so"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        # Build to a private name, then rename: concurrent builders never see a half file.
        fd, partial = tempfile.mkstemp(suffix=".so", dir=target.parent)
        os.close(fd)
        build = subprocess.run(
            [compiler, *flags, "-o", partial, str(SOURCE), "-lm"],
            capture_output=True,
            text=True,
        )
        if build.returncode != 0:
            os.unlink(partial)
            return None
        os.replace(partial, target)
    lib = ctypes.CDLL(str(target))
    lib.sai_model_new.restype = _p
    lib.sai_model_new.argtypes = [_p, _p, _p, _i]
    lib.sai_model_free.argtypes = [_p]
    lib.sai_forward.restype = _i
    lib.sai_forward.argtypes = [_p, _i, _p, _p, _p, _p, _p, _i, _i, _i, _p, _p]
    lib.sai_pool_new.restype = _p
    lib.sai_pool_new.argtypes = [_i]
    lib.sai_pool_free.argtypes = [_p]
    lib.sai_gemm.argtypes = [_p, _p, _i, _i, _p, _i, _p]
    lib.sai_kernel_kind.restype = _i
    lib.sai_pack_weight.argtypes = [_p, _i, _i, _p]
    lib.sai_packed_size.restype = ctypes.c_size_t
    lib.sai_packed_size.argtypes = [_i, _i]
    lib.sai_qpacked_size.restype = ctypes.c_size_t
    lib.sai_qpacked_size.argtypes = [_i, _i, _i, _i]
    lib.sai_qpack.argtypes = [_p, _p, _p, _i, _i, _i, _i, _p]
    lib.sai_qgemm.restype = _i
    lib.sai_qgemm.argtypes = [_p, _p, _i, _i, _p, _i, _i, _i, _p]
    lib.sai_qkernel_kind.restype = _i
    lib.sai_model_quantize.argtypes = [_p, _p, _p]
    return lib


KERNELS = {2: "AVX512-BF16", 1: "AVX2+FMA", 0: "portable C"}
#: The int8/int4 product each build runs (``sai_qkernel_kind``): AVX-512 VNNI ``vpdpbusd``
#: where the compiler targets it (every CPU with AVX512-BF16 has it), AVX2 ``vpmaddubsw``, loops.
QUANT_KERNELS = {2: "AVX-512 VNNI", 1: "AVX2", 0: "portable C"}
#: Compiler flags that build each kernel kind: the machine's own ISA (AVX512-BF16 where it
#: has it), x86-64-v3 (AVX2 and FMA), and no ``-march`` at all (the compiler's baseline:
#: the C loops). Building the lower kinds on a newer CPU is how the tests check them there.
KIND_FLAGS = {
    2: FLAGS,
    1: ["-O3", "-march=x86-64-v3", *FLAGS[2:]],
    0: ["-O3", *FLAGS[2:]],
}


@functools.cache
def library_for(kind: int) -> ctypes.CDLL | None:
    """``forward.c`` built to run kernel ``kind`` (see :data:`KERNELS`), or None when this
    machine cannot: ``SAI_CPU_KERNELS=0``, not Linux, no compiler, or a CPU without the ISA."""
    if why_unbuilt(kind) is not None:
        return None
    lib = load_library() if kind == 2 else build_library(KIND_FLAGS[kind])
    return lib if lib is not None and lib.sai_kernel_kind() == kind else None


def why_unbuilt(kind: int) -> str | None:
    """Why kernel ``kind`` cannot be built and run here, or None when it can."""
    if not get_settings().cpu_kernels:
        return "SAI_CPU_KERNELS=0"
    if platform.system() != "Linux":
        return "the native forward is built on Linux only"
    if _compiler() is None:
        return "no C compiler (cc)"
    flags = set(_cpu_flags().split())
    if kind == 2 and "avx512_bf16" not in flags:
        return "the CPU has no AVX512-BF16"
    if kind == 1 and not {"avx2", "fma"} <= flags:
        return "the CPU has no AVX2 and FMA"
    if kind == 2 and (lib := load_library()) is not None and lib.sai_kernel_kind() != 2:
        return "the compiler did not enable AVX512-BF16 with -march=native"
    return None


def available() -> bool:
    return load_library() is not None


def describe() -> str:
    """One line for ``sai doctor``: whether the native forward builds here, and which kernel."""
    lib = load_library()
    if lib is None:
        return "off (no C compiler, build failed, or SAI_CPU_KERNELS=0)"
    return f"builds here with {KERNELS[lib.sai_kernel_kind()]} products"


def _ptr(tensor: torch.Tensor) -> int:
    return tensor.data_ptr()


class ThreadPool:
    """The C thread pool alone, for :func:`gemm` (tests and kernel benchmarks)."""

    def __init__(self, threads: int, lib: ctypes.CDLL | None = None) -> None:
        lib = lib or load_library()
        assert lib is not None
        self.lib = lib
        self.handle = lib.sai_pool_new(threads)

    def close(self) -> None:
        if self.handle:
            self.lib.sai_pool_free(self.handle)
            self.handle = None

    def __del__(self) -> None:
        self.close()


def pack_weight(weight: torch.Tensor, lib: ctypes.CDLL | None = None) -> torch.Tensor:
    """A bf16 (N, K) matrix in the kernel's panel layout (see ``forward.c``), a new tensor."""
    lib = lib or load_library()
    assert lib is not None
    if weight.dtype != torch.bfloat16 or weight.dim() != 2:
        raise ValueError("the native product takes 2-D bf16 weights")
    weight = weight.detach().contiguous()
    n, k = weight.shape
    out = torch.empty(lib.sai_packed_size(n, k), dtype=torch.bfloat16)
    lib.sai_pack_weight(_ptr(weight), n, k, _ptr(out))
    return out


def gemm(pool: ThreadPool, x: torch.Tensor, packed: torch.Tensor, n: int) -> torch.Tensor:
    """``x @ weight.T`` (bf16 in, f32 out) for ``packed = pack_weight(weight)``, N = ``n``."""
    x = x.contiguous()
    if x.dtype != torch.bfloat16:
        raise ValueError("the native product takes bf16 activations")
    m, k = x.shape
    out = torch.empty(m, n, dtype=torch.float32)
    pool.lib.sai_gemm(pool.handle, _ptr(x), m, k, _ptr(packed), n, _ptr(out))
    return out


def qpack(
    codes: torch.Tensor,
    scales: torch.Tensor,
    offsets: torch.Tensor,
    bits: int,
    lib: ctypes.CDLL | None = None,
) -> torch.Tensor:
    """Quantized (N, K) codes (one uint8 per weight) with f32 scales and offsets (N, K / group)
    in the quantized kernels' layout (``forward.c``, "quantized products"): a uint8 tensor."""
    lib = lib or load_library()
    assert lib is not None
    n, k = codes.shape
    group = k // scales.shape[1]
    codes = codes.to(torch.uint8).contiguous()
    scales, offsets = scales.float().contiguous(), offsets.float().contiguous()
    out = torch.empty(lib.sai_qpacked_size(n, k, bits, group), dtype=torch.uint8)
    lib.sai_qpack(_ptr(codes), _ptr(scales), _ptr(offsets), n, k, bits, group, _ptr(out))
    return out


def qgemm(
    pool: ThreadPool, x: torch.Tensor, packed: torch.Tensor, n: int, bits: int, group: int
) -> torch.Tensor:
    """``x @ dequantized(weight).T`` (bf16 in, f32 out) for ``packed = qpack(...)``; the rows
    of ``x`` are quantized to int8 in blocks of 32 first, as in the forward."""
    x = x.contiguous()
    if x.dtype != torch.bfloat16:
        raise ValueError("the native product takes bf16 activations")
    m, k = x.shape
    out = torch.empty(m, n, dtype=torch.float32)
    status = pool.lib.sai_qgemm(pool.handle, _ptr(x), m, k, _ptr(packed), n, bits, group, _ptr(out))
    if status != 0:
        raise ValueError(f"no {bits}-bit product with groups of {group} over {k} inputs")
    return out
