"""Triton kernels for the GPU decode step: each replaces several PyTorch kernels with one.

Measured on an H200 (2026-11-26, ``bench/gpu_decode.py --profile``): the eager SmolLM2-135M
decode step launched 887 kernels of ~2.2 us each, and a CUDA graph replay of it still took
2.7 ms against a 65 us bandwidth floor: the step is bound by kernel count. The kernels here
cut a layer from ~30 kernels to 9 (norm, three matrix products and these):

- :func:`rope_and_write_cache`: RoPE on the fused QKV product's query and key heads, and the
  new keys and values written to their paged-cache slots (was ~11 kernels);
- :func:`paged_decode_attention`: one query token per sequence against its keys, read from
  the paged store through its block table with an online softmax (FlashAttention's running
  max and sum, Dao et al. 2022; the paged read as vLLM's PagedAttention, Kwon et al. 2023).
  One program per (sequence, key/value head) serves that head's whole query group (GQA),
  so each key is read once (was a gather, two widening copies, two batched products, mask
  and softmax: ~12 kernels and every key read three times);
- :func:`add_rms_norm`: the residual add and the next RMSNorm in one pass over the row;
- :func:`silu_mul`: SwiGLU's ``silu(gate) * up`` from the fused gate/up product.

Every kernel computes in f32 and rounds once when it stores. Under ``TRITON_INTERPRET=1``
Triton runs them on CPU tensors through NumPy, which is how the tests check them on a machine
without a GPU.
"""

from __future__ import annotations

import functools

import torch
import triton
import triton.language as tl

LOG2E = 1.4426950408889634


@triton.jit
def _rope_write_kernel(
    qkv_ptr,
    positions_ptr,
    slots_ptr,
    inv_freq_ptr,
    q_ptr,
    key_ptr,
    value_ptr,
    qkv_stride,
    N_Q: tl.constexpr,
    N_KV: tl.constexpr,
    D: tl.constexpr,
):
    token = tl.program_id(0)
    head = tl.program_id(1)
    half = tl.arange(0, D // 2)
    row = qkv_ptr + token * qkv_stride
    x1 = tl.load(row + head * D + half).to(tl.float32)
    x2 = tl.load(row + head * D + D // 2 + half).to(tl.float32)
    angle = tl.load(positions_ptr + token).to(tl.float32) * tl.load(inv_freq_ptr + half)
    cos = tl.cos(angle)
    sin = tl.sin(angle)
    first = x1 * cos - x2 * sin
    second = x2 * cos + x1 * sin
    if head < N_Q:
        out = q_ptr + (token * N_Q + head) * D
        tl.store(out + half, first.to(q_ptr.dtype.element_ty))
        tl.store(out + D // 2 + half, second.to(q_ptr.dtype.element_ty))
    else:
        kv_head = head - N_Q
        slot = tl.load(slots_ptr + token)
        out = key_ptr + (slot * N_KV + kv_head) * D
        tl.store(out + half, first.to(key_ptr.dtype.element_ty))
        tl.store(out + D // 2 + half, second.to(key_ptr.dtype.element_ty))
        full = tl.arange(0, D)
        v = tl.load(row + (N_Q + N_KV + kv_head) * D + full)
        tl.store(value_ptr + (slot * N_KV + kv_head) * D + full, v)


def rope_and_write_cache(
    qkv: torch.Tensor,
    positions: torch.Tensor,
    slots: torch.Tensor,
    inv_freq: torch.Tensor,
    key_store: torch.Tensor,
    value_store: torch.Tensor,
    n_heads: int,
) -> torch.Tensor:
    """Rotated queries (T, Hq, D); rotated keys and the values go to ``slots`` of the stores.

    ``qkv`` (T, (Hq + 2 Hkv) D) is the fused projection (queries, keys, values), RoPE the
    half-split (Llama / Hugging Face) layout: dimension i turns with i + D/2.
    """
    tokens = qkv.shape[0]
    n_kv, head_dim = key_store.shape[1], key_store.shape[2]
    q = torch.empty((tokens, n_heads, head_dim), dtype=qkv.dtype, device=qkv.device)
    _rope_write_kernel[(tokens, n_heads + n_kv)](
        qkv,
        positions,
        slots,
        inv_freq,
        q,
        key_store,
        value_store,
        qkv.stride(0),
        N_Q=n_heads,
        N_KV=n_kv,
        D=head_dim,
    )
    return q


@triton.jit
def _paged_decode_kernel(
    q_ptr,
    key_ptr,
    value_ptr,
    tables_ptr,
    lengths_ptr,
    out_ptr,
    acc_ptr,
    max_ptr,
    sum_ptr,
    qk_scale,
    tables_stride,
    N_KV: tl.constexpr,
    GROUP: tl.constexpr,
    GROUP_PAD: tl.constexpr,
    D: tl.constexpr,
    BLOCK_SIZE: tl.constexpr,
    BLOCK_N: tl.constexpr,
    PRECISION: tl.constexpr,
    WINDOW: tl.constexpr,
    SPLITS: tl.constexpr,
    SPLIT_KEYS: tl.constexpr,
):
    seq = tl.program_id(0)
    kv_head = tl.program_id(1)
    split = tl.program_id(2)
    length = tl.load(lengths_ptr + seq).to(tl.int32)
    g = tl.arange(0, GROUP_PAD)
    d = tl.arange(0, D)
    q_rows = (seq * N_KV * GROUP + kv_head * GROUP + g)[:, None] * D + d[None, :]
    q = tl.load(q_ptr + q_rows, mask=(g < GROUP)[:, None], other=0.0).to(tl.float32)
    m = tl.full((GROUP_PAD,), float("-inf"), tl.float32)
    total = tl.zeros((GROUP_PAD,), tl.float32)
    acc = tl.zeros((GROUP_PAD, D), tl.float32)
    start = split * SPLIT_KEYS
    end = tl.minimum(length, start + SPLIT_KEYS)
    if WINDOW > 0:
        start = tl.maximum(start, tl.maximum(length - WINDOW, 0) // BLOCK_N * BLOCK_N)
    while start < end:  # (a while loop: Triton's interpreter cannot range() to a load)
        n = start + tl.arange(0, BLOCK_N)
        inside = n < end
        visible = inside
        if WINDOW > 0:
            visible = inside & (n > length - 1 - WINDOW)
        block = tl.load(tables_ptr + seq * tables_stride + n // BLOCK_SIZE, mask=inside, other=0)
        rows = ((block * BLOCK_SIZE + n % BLOCK_SIZE) * N_KV + kv_head)[:, None] * D + d[None, :]
        k = tl.load(key_ptr + rows, mask=inside[:, None], other=0.0).to(tl.float32)
        s = tl.dot(q, tl.trans(k), input_precision=PRECISION)
        s = tl.where(visible[None, :], s * qk_scale, float("-inf"))
        m_new = tl.maximum(m, tl.max(s, 1))
        shift = tl.where(m_new == float("-inf"), 0.0, m_new)  # no key yet: no NaN from -inf
        alpha = tl.exp2(m - shift)
        p = tl.exp2(s - shift[:, None])
        total = total * alpha + tl.sum(p, 1)
        v = tl.load(value_ptr + rows, mask=inside[:, None], other=0.0).to(tl.float32)
        acc = acc * alpha[:, None] + tl.dot(p, v, input_precision=PRECISION)
        m = m_new
        start += BLOCK_N
    valid = g < GROUP
    if SPLITS == 1:
        out = acc / total[:, None]
        tl.store(out_ptr + q_rows, out.to(out_ptr.dtype.element_ty), mask=valid[:, None])
    else:  # this split's running max, sum and unnormalized output, for _combine_kernel
        part = ((seq * N_KV + kv_head) * SPLITS + split) * GROUP + g
        tl.store(max_ptr + part, m, mask=valid)
        tl.store(sum_ptr + part, total, mask=valid)
        tl.store(acc_ptr + part[:, None] * D + d[None, :], acc, mask=valid[:, None])


@triton.jit
def _combine_kernel(
    acc_ptr,
    max_ptr,
    sum_ptr,
    out_ptr,
    N_KV: tl.constexpr,
    GROUP: tl.constexpr,
    GROUP_PAD: tl.constexpr,
    D: tl.constexpr,
    SPLITS: tl.constexpr,
):
    seq = tl.program_id(0)
    kv_head = tl.program_id(1)
    g = tl.arange(0, GROUP_PAD)
    d = tl.arange(0, D)
    valid = g < GROUP
    m = tl.full((GROUP_PAD,), float("-inf"), tl.float32)
    total = tl.zeros((GROUP_PAD,), tl.float32)
    acc = tl.zeros((GROUP_PAD, D), tl.float32)
    for split in range(SPLITS):
        part = ((seq * N_KV + kv_head) * SPLITS + split) * GROUP + g
        m_split = tl.load(max_ptr + part, mask=valid, other=float("-inf"))
        m_new = tl.maximum(m, m_split)
        shift = tl.where(m_new == float("-inf"), 0.0, m_new)
        alpha = tl.exp2(m - shift)
        beta = tl.exp2(m_split - shift)
        total = total * alpha + tl.load(sum_ptr + part, mask=valid, other=0.0) * beta
        part_acc = tl.load(acc_ptr + part[:, None] * D + d[None, :], mask=valid[:, None], other=0.0)
        acc = acc * alpha[:, None] + part_acc * beta[:, None]
        m = m_new
    rows = (seq * N_KV * GROUP + kv_head * GROUP + g)[:, None] * D + d[None, :]
    total = tl.where(valid, total, 1.0)  # padding rows of the group: never stored
    tl.store(
        out_ptr + rows, (acc / total[:, None]).to(out_ptr.dtype.element_ty), mask=valid[:, None]
    )


@functools.cache
def _multiprocessors(device: torch.device) -> int:
    if device.type != "cuda":
        return 4  # the interpreter: any small count
    return torch.cuda.get_device_properties(device).multi_processor_count


def paged_decode_attention(
    q: torch.Tensor,
    key_store: torch.Tensor,
    value_store: torch.Tensor,
    block_tables: torch.Tensor,
    lengths: torch.Tensor,
    block_size: int,
    window: int = 0,
    splits: int | None = None,
) -> torch.Tensor:
    """q (B, Hq, D), one token per sequence, over its first ``lengths[b]`` cached keys
    (the new one included; with ``window`` > 0 only the last ``window``) -> (B, Hq, D).

    ``block_tables`` (B, W) maps each sequence's logical blocks to physical ones; entries past
    its length are never read. Keys and values are widened to f32 as they are loaded (bf16
    and f16 exactly); f32 models take exact f32 ("ieee") dot products, the others the tensor
    cores' tf32 ones, whose 10-bit mantissa holds a bf16 operand whole. Decode attention is
    bound by reading the cache, so the slower tf32 rate costs nothing here.

    A small batch would leave most of the GPU idle with one program per (sequence, head), so
    the keys are split into ``splits`` ranges, each program keeps its range's running max,
    sum and output, and a second kernel merges them (flash-decoding, Dao et al. 2023). By
    default: enough splits for about two programs per multiprocessor, at least 64 keys each;
    the count depends only on the shapes, so a CUDA graph can hold it.
    """
    batch, n_heads, head_dim = q.shape
    n_kv = key_store.shape[1]
    group = n_heads // n_kv
    group_pad = max(16, triton.next_power_of_2(group))
    tile = 64
    tiles = triton.cdiv(block_tables.shape[1] * block_size, tile)
    if splits is None:
        splits = min(tiles, max(1, triton.cdiv(2 * _multiprocessors(q.device), batch * n_kv)))
    split_keys = triton.cdiv(tiles, max(1, min(splits, tiles))) * tile
    splits = triton.cdiv(tiles * tile, split_keys)
    out = torch.empty_like(q)
    partial = (batch, n_kv, splits, group)
    f32 = {"dtype": torch.float32, "device": q.device}
    acc, maxima, sums = (
        (
            torch.empty((*partial, head_dim), **f32),
            torch.empty(partial, **f32),
            torch.empty(partial, **f32),
        )
        if splits > 1
        else (out, out, out)
    )
    _paged_decode_kernel[(batch, n_kv, splits)](
        q,
        key_store,
        value_store,
        block_tables,
        lengths,
        out,
        acc,
        maxima,
        sums,
        head_dim**-0.5 * LOG2E,
        block_tables.stride(0),
        N_KV=n_kv,
        GROUP=group,
        GROUP_PAD=group_pad,
        D=head_dim,
        BLOCK_SIZE=block_size,
        BLOCK_N=tile,
        WINDOW=window,
        PRECISION="ieee" if q.dtype == torch.float32 else "tf32",
        SPLITS=splits,
        SPLIT_KEYS=split_keys,
    )
    if splits > 1:
        _combine_kernel[(batch, n_kv)](
            acc,
            maxima,
            sums,
            out,
            N_KV=n_kv,
            GROUP=group,
            GROUP_PAD=group_pad,
            D=head_dim,
            SPLITS=splits,
        )
    return out


@triton.jit
def _add_rms_norm_kernel(
    x_ptr,
    delta_ptr,
    weight_ptr,
    out_ptr,
    eps,
    dim,
    HAS_DELTA: tl.constexpr,
    BLOCK: tl.constexpr,
):
    row = tl.program_id(0)
    cols = tl.arange(0, BLOCK)
    inside = cols < dim
    x = tl.load(x_ptr + row * dim + cols, mask=inside, other=0.0)
    if HAS_DELTA:
        x = (
            x.to(tl.float32)
            + tl.load(delta_ptr + row * dim + cols, mask=inside, other=0.0).to(tl.float32)
        ).to(x_ptr.dtype.element_ty)
        tl.store(x_ptr + row * dim + cols, x, mask=inside)
    xf = x.to(tl.float32)
    scale = 1.0 / tl.sqrt(tl.sum(xf * xf, 0) / dim + eps)
    weight = tl.load(weight_ptr + cols, mask=inside, other=0.0).to(tl.float32)
    tl.store(
        out_ptr + row * dim + cols, (xf * scale * weight).to(out_ptr.dtype.element_ty), mask=inside
    )


def add_rms_norm(
    x: torch.Tensor, delta: torch.Tensor | None, weight: torch.Tensor, eps: float
) -> torch.Tensor:
    """``x += delta`` in place (rounded to x's dtype, as the model's residual), then
    RMSNorm(x) * weight, returned. ``delta`` None: the norm alone. x is (T, dim), contiguous."""
    rows, dim = x.shape
    out = torch.empty_like(x)
    _add_rms_norm_kernel[(rows,)](
        x,
        x if delta is None else delta,
        weight,
        out,
        eps,
        dim,
        HAS_DELTA=delta is not None,
        BLOCK=triton.next_power_of_2(dim),
    )
    return out


@triton.jit
def _silu_mul_kernel(gate_up_ptr, out_ptr, hidden, BLOCK: tl.constexpr):
    row = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    inside = cols < hidden
    gate = tl.load(gate_up_ptr + row * 2 * hidden + cols, mask=inside, other=0.0).to(tl.float32)
    up = tl.load(gate_up_ptr + row * 2 * hidden + hidden + cols, mask=inside, other=0.0)
    out = gate / (1.0 + tl.exp(-gate)) * up.to(tl.float32)
    tl.store(out_ptr + row * hidden + cols, out.to(out_ptr.dtype.element_ty), mask=inside)


def silu_mul(gate_up: torch.Tensor) -> torch.Tensor:
    """``silu(gate) * up`` for the fused (T, 2 * hidden) gate/up product -> (T, hidden)."""
    rows, width = gate_up.shape
    hidden = width // 2
    out = torch.empty((rows, hidden), dtype=gate_up.dtype, device=gate_up.device)
    block = min(1024, triton.next_power_of_2(hidden))
    _silu_mul_kernel[(rows, triton.cdiv(hidden, block))](gate_up, out, hidden, BLOCK=block)
    return out
