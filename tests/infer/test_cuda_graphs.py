"""The fixed-shape decode step that CUDA graphs replay computes what the eager step does.

A graph needs fixed shapes, so the step pads its batch and block tables up to buckets and
masks by length (``infer/cuda_graphs.py``). That padding is what can go wrong, and it is the
same code on any device: here it runs eagerly on the CPU (``capture=False``) and must give
the eager path's tokens exactly, across batch buckets that shrink as requests finish and
block-table widths that grow as sequences cross block boundaries. The capture itself needs a
GPU; ``bench/gpu_decode.py`` checks it there.
"""

from __future__ import annotations

import pytest
import torch

from scalable_ai.infer.cuda_graphs import BATCH_BUCKETS, bucket_of, supports, width_buckets
from scalable_ai.infer.sampling import SamplingParams
from tests.infer.conftest import make_engine, tiny_model
from tests.infer.test_engine import GREEDY, PROMPTS, reference_greedy


def static_engine(model=None, **overrides):
    """An engine whose decode-only steps go through the static (graph-shaped) path."""
    engine = make_engine(model, **overrides)
    runner = engine.runner
    runner.graphs = runner.decode_graphs(
        engine.config.max_num_seqs, engine.config.max_model_len, capture=False
    )
    return engine


def test_buckets_hold_every_size_with_the_smallest_fit():
    assert [bucket_of(n, BATCH_BUCKETS) for n in (1, 3, 5, 17, 64, 65)] == [1, 4, 8, 24, 64, 96]
    assert width_buckets(1) == (1,)
    assert width_buckets(5) == (1, 2, 4, 8)
    assert width_buckets(128) == (1, 2, 4, 8, 16, 32, 64, 128)


def test_the_static_decode_step_gives_the_eager_tokens_and_the_uncached_reference():
    engine = static_engine()
    outputs = engine.generate(PROMPTS, GREEDY)
    assert engine.runner.graphs is not None
    assert outputs == make_engine().generate(PROMPTS, GREEDY)
    for prompt, choices in zip(PROMPTS, outputs, strict=True):
        assert choices[0] == reference_greedy(prompt, GREEDY.max_tokens)


def test_the_static_step_through_the_models_own_forward_gives_the_same_tokens():
    engine = static_engine(forward_path="model")
    assert engine.runner.packed is None
    assert engine.generate(PROMPTS, GREEDY) == make_engine().generate(PROMPTS, GREEDY)


def test_a_sliding_window_is_masked_in_the_static_step_as_in_the_model():
    variant = {"sliding_window": 8}
    engine = static_engine(tiny_model(**variant), max_num_batched_tokens=16)
    outputs = engine.generate(
        PROMPTS, SamplingParams(temperature=0.0, max_tokens=20, ignore_eos=True)
    )
    for prompt, choices in zip(PROMPTS, outputs, strict=True):
        assert choices[0] == reference_greedy(prompt, 20, **variant)


def test_batches_that_shrink_and_tables_that_widen_change_buckets_without_changing_tokens():
    """Outputs of different lengths: the batch falls through buckets 8 -> 4 -> 2 -> 1 while
    the longest table doubles its width bucket (block size 4: 8 -> 40 tokens)."""
    prompts = [p[:6] for p in PROMPTS] + ["xy", "z"]
    lengths = [3, 7, 11, 15, 19, 23, 27, 31]
    engine = static_engine()
    seen: set[tuple[int, int]] = set()
    run = engine.runner.graphs.run

    def recording_run(scheduled):
        block_size = engine.cache.spec.block_size
        longest = max(-(-(i.seq.num_computed + 1) // block_size) for i in scheduled)
        graphs = engine.runner.graphs
        seen.add(
            (bucket_of(len(scheduled), graphs.batch_buckets), bucket_of(longest, graphs.widths))
        )
        return run(scheduled)

    engine.runner.graphs.run = recording_run
    ids = [
        engine.add_request(p, SamplingParams(temperature=0.0, max_tokens=n, ignore_eos=True))
        for p, n in zip(prompts, lengths, strict=True)
    ]
    got = {rid: [] for rid in ids}
    while engine.has_unfinished_requests():
        for out in engine.step():
            got[out.request_id].extend(out.choices[0].token_ids)
    assert {b for b, _ in seen} >= {8, 4, 2, 1}
    assert len({w for _, w in seen}) >= 3
    for rid, prompt, n in zip(ids, prompts, lengths, strict=True):
        assert got[rid] == reference_greedy(prompt, n)


def test_padding_rows_write_only_the_scratch_block_which_no_sequence_is_given():
    engine = static_engine()
    cache, pool = engine.cache, engine.pool
    assert cache.scratch_block == pool.num_blocks
    assert cache.keys[0].shape[0] == (pool.num_blocks + 1) * cache.spec.block_size
    taken = [pool.allocate() for _ in range(pool.num_blocks)]
    assert cache.scratch_block not in taken
    for block in taken:
        pool.release(block)
    given: set[int] = set()
    allocate = pool.allocate

    def recording_allocate() -> int:
        given.add(block := allocate())
        return block

    pool.allocate = recording_allocate
    for layer in cache.keys:
        layer.fill_(float("nan"))
    engine.generate(PROMPTS[:3], SamplingParams(temperature=0.0, max_tokens=4, ignore_eos=True))
    size = cache.spec.block_size
    for layer in cache.keys:
        blocks = layer.view(pool.num_blocks + 1, -1)
        assert not blocks[cache.scratch_block].isnan().all()  # the 3 -> 4 padding row wrote
        for block in set(range(pool.num_blocks)) - given:
            assert blocks[block].isnan().all(), f"block {block} (size {size}) was written"


def test_only_dense_models_are_captured():
    assert supports(tiny_model())
    assert not supports(tiny_model(n_experts=4, experts_per_token=2))


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_the_runner_keeps_to_the_eager_path_on_a_cpu(dtype):
    engine = make_engine(tiny_model(dtype=dtype), forward_path="packed-torch")
    assert engine.runner.graphs is None
    assert engine.runner.device.type == "cpu"


def test_the_device_setting_names_its_field_when_it_cannot_be_had():
    from scalable_ai.errors import UserError
    from scalable_ai.infer.engine import resolve_device

    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device(None).type == resolve_device("auto").type == expected
    with pytest.raises(UserError) as bogus:
        resolve_device("quantum")
    assert bogus.value.field == "device"
    if not torch.cuda.is_available():
        with pytest.raises(UserError, match="no CUDA GPU") as missing:
            resolve_device("cuda")
        assert missing.value.field == "device"
