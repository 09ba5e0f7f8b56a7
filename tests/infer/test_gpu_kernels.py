"""The Triton decode kernels compute what the PyTorch step computes (``infer/gpu``).

Triton's interpreter (``TRITON_INTERPRET=1``, set before Triton is imported) runs the same
kernel source on CPU tensors, so each kernel is checked here against an independent PyTorch
reference in f64, on fresh random inputs, with relative-error bounds by dtype; and the fused
decode forward, through the engine, must give the eager path's greedy tokens. The compiled
kernels are checked on a GPU by ``bench/gpu_decode.py``.
"""

from __future__ import annotations

import os

import pytest
import torch

from scalable_ai.infer.sampling import SamplingParams
from tests.infer.conftest import make_engine, tiny_model
from tests.infer.test_engine import GREEDY, PROMPTS, reference_greedy

_interpret = os.environ.get("TRITON_INTERPRET")
os.environ["TRITON_INTERPRET"] = "1"  # read when the kernels are decorated (module import)
from scalable_ai.infer.gpu import kernels  # noqa: E402

if _interpret is None:  # the rest of this test process keeps its own setting
    del os.environ["TRITON_INTERPRET"]
else:
    os.environ["TRITON_INTERPRET"] = _interpret


@pytest.fixture(autouse=True)
def interpret(monkeypatch):
    """Launches read the setting too: on for these tests only."""
    monkeypatch.setenv("TRITON_INTERPRET", "1")


#: ||out - ref|| / ||ref|| allowed by dtype: f32 arithmetic, then one bf16 rounding (~2^-8).
TOLERANCE = {torch.float32: 1e-5, torch.bfloat16: 1.2e-2}
DTYPES = pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])


def relative_error(out: torch.Tensor, ref: torch.Tensor) -> float:
    assert not out.isnan().any()
    return float((out.double() - ref.double()).norm() / ref.double().norm())


def rotate(x: torch.Tensor, positions: torch.Tensor, inv_freq: torch.Tensor) -> torch.Tensor:
    """Half-split RoPE in f64: x (T, H, D)."""
    angles = positions.double()[:, None, None] * inv_freq.double()
    first, second = x.double().chunk(2, dim=-1)
    return torch.cat(
        (
            first * angles.cos() - second * angles.sin(),
            second * angles.cos() + first * angles.sin(),
        ),
        dim=-1,
    )


@DTYPES
def test_rope_rotates_queries_and_keys_and_writes_keys_and_values_to_their_slots(dtype):
    torch.manual_seed(1)
    tokens, hq, hkv, d, slots_total = 5, 6, 2, 32, 40
    qkv = torch.randn(tokens, (hq + 2 * hkv) * d).to(dtype)
    positions = torch.tensor([0, 7, 3, 100, 2047])
    slots = torch.tensor([9, 0, 31, 17, 4])
    inv_freq = 1.0 / (10000 ** (torch.arange(0, d, 2).float() / d))
    keys = torch.full((slots_total, hkv, d), float("nan"), dtype=dtype)
    values = keys.clone()
    q = kernels.rope_and_write_cache(qkv, positions, slots, inv_freq, keys, values, hq)
    heads = qkv.view(tokens, hq + 2 * hkv, d)
    assert relative_error(q, rotate(heads[:, :hq], positions, inv_freq)) < TOLERANCE[dtype]
    assert (
        relative_error(keys[slots], rotate(heads[:, hq : hq + hkv], positions, inv_freq))
        < (TOLERANCE[dtype])
    )
    assert torch.equal(values[slots], heads[:, hq + hkv :])
    untouched = torch.ones(slots_total, dtype=torch.bool)
    untouched[slots] = False
    assert keys[untouched].isnan().all() and values[untouched].isnan().all()


def paged_reference(q, keys, values, tables, lengths, block_size, window):
    """Per sequence: gather its keys by block table, softmax attention in f64."""
    batch, hq, d = q.shape
    hkv = keys.shape[1]
    out = torch.empty(batch, hq, d, dtype=torch.float64)
    for b in range(batch):
        n = int(lengths[b])
        slots = torch.cat(
            [torch.arange(blk * block_size, (blk + 1) * block_size) for blk in tables[b].tolist()]
        )[:n]
        k = keys[slots].double().repeat_interleave(hq // hkv, dim=1)  # (n, hq, d)
        v = values[slots].double().repeat_interleave(hq // hkv, dim=1)
        scores = torch.einsum("hd,nhd->hn", q[b].double(), k) * d**-0.5
        if window:
            scores[:, : max(0, n - window)] = float("-inf")
        out[b] = torch.einsum("hn,nhd->hd", scores.softmax(dim=-1), v)
    return out


@DTYPES
@pytest.mark.parametrize("window", [0, 37], ids=["full", "sliding-window"])
@pytest.mark.parametrize("splits", [1, 2, 3], ids=["one-range", "two-ranges", "three-ranges"])
def test_paged_decode_attention_matches_gathered_softmax_attention(dtype, window, splits):
    """Lengths across one and several 64-key tiles and partial blocks, shuffled physical
    blocks, a GQA group of 3 (padded to 16 rows inside the kernel), NaN in unused slots; the
    keys in one range, or split into ranges merged by the second kernel (flash-decoding),
    some of them empty for the short sequences or outside the window."""
    torch.manual_seed(2)
    block_size, hq, hkv, d, blocks = 16, 9, 3, 64, 48
    lengths = torch.tensor([1, 15, 16, 64, 65, 150])
    width = int(-(-lengths.max() // block_size))
    order = torch.randperm(blocks)
    tables = torch.stack(
        [
            order[i * 8 : i * 8 + width] if i * 8 + width <= blocks else order[:width]
            for i in range(len(lengths))
        ]
    )
    keys = torch.full((blocks * block_size, hkv, d), float("nan"), dtype=dtype)
    values = keys.clone()
    for b, n in enumerate(lengths.tolist()):
        for p in range(n):
            slot = int(tables[b, p // block_size]) * block_size + p % block_size
            keys[slot] = torch.randn(hkv, d).to(dtype)
            values[slot] = torch.randn(hkv, d).to(dtype)
    tables[0, 1:] = 0  # entries past a sequence's length are never read
    q = torch.randn(len(lengths), hq, d).to(dtype)
    out = kernels.paged_decode_attention(
        q, keys, values, tables, lengths, block_size, window, splits
    )
    ref = paged_reference(q, keys, values, tables, lengths, block_size, window)
    assert relative_error(out, ref) < TOLERANCE[dtype]


@DTYPES
def test_add_rms_norm_adds_in_place_then_normalizes(dtype):
    torch.manual_seed(3)
    x = torch.randn(4, 576).to(dtype)
    delta = torch.randn(4, 576).to(dtype)
    weight = torch.rand(576).to(dtype) + 0.5
    expected_x = x.double() + delta.double()
    expected_h = expected_x * (expected_x.pow(2).mean(-1, keepdim=True) + 1e-5).rsqrt()
    expected_h = expected_h * weight.double()
    h = kernels.add_rms_norm(x, delta, weight, 1e-5)
    assert relative_error(x, expected_x) < TOLERANCE[dtype]
    assert relative_error(h, expected_h) < TOLERANCE[dtype]
    alone = kernels.add_rms_norm(x.clone(), None, weight, 1e-5)
    assert (
        relative_error(
            alone, torch.nn.functional.rms_norm(x.double(), (576,), weight.double(), 1e-5)
        )
        < TOLERANCE[dtype]
    )


@DTYPES
def test_silu_mul_is_swiglus_gate_times_up(dtype):
    torch.manual_seed(4)
    gate_up = (3 * torch.randn(3, 2 * 1536)).to(dtype)
    gate, up = gate_up.double().chunk(2, dim=-1)
    assert (
        relative_error(kernels.silu_mul(gate_up), torch.nn.functional.silu(gate) * up)
        < (TOLERANCE[dtype])
    )


def fused_engine(model=None, **overrides):
    engine = make_engine(model, **overrides)
    runner = engine.runner
    runner.graphs = runner.decode_graphs(
        engine.config.max_num_seqs, engine.config.max_model_len, capture=False, fused=True
    )
    return engine


def test_the_fused_decode_forward_gives_the_eager_tokens_and_the_uncached_reference():
    engine = fused_engine()
    assert type(engine.runner.graphs.forward).__name__ == "FusedDecode"
    outputs = engine.generate(PROMPTS[:4], GREEDY)
    assert outputs == make_engine().generate(PROMPTS[:4], GREEDY)
    for prompt, choices in zip(PROMPTS[:4], outputs, strict=True):
        assert choices[0] == reference_greedy(prompt, GREEDY.max_tokens)


def test_the_fused_decode_forward_masks_a_sliding_window_like_the_model():
    variant = {"sliding_window": 8}
    engine = fused_engine(tiny_model(**variant), max_num_batched_tokens=16)
    params = SamplingParams(temperature=0.0, max_tokens=14, ignore_eos=True)
    for prompt, choices in zip(PROMPTS[:3], engine.generate(PROMPTS[:3], params), strict=True):
        assert choices[0] == reference_greedy(prompt, 14, **variant)
