"""The native CPU forward (``infer/cpu/forward.c``) against independent references.

References: the f32 matrix product of the same bf16-rounded operands for the kernel; the
course's own ``Transformer`` run in f32 on the same bf16 weights for the model (relative
error thresholds set by bf16's 8-bit mantissa); and the engine's own invariants (batched ==
unbatched, prefix caching, preemption) on the native path.
"""

from __future__ import annotations

import pytest
import torch

from scalable_ai.errors import UserError
from scalable_ai.infer import cpu
from scalable_ai.infer.cpu.native import NativeForward
from scalable_ai.infer.forward_paths import NATIVE_KINDS, auto_path, cpu_features
from scalable_ai.infer.sampling import SamplingParams
from tests.infer.conftest import make_engine, tiny_model

#: The fastest native kernel this CPU builds (the portable loops build anywhere with cc).
NATIVE = next(path for path, kind in NATIVE_KINDS.items() if cpu.library_for(kind) is not None)

GREEDY = SamplingParams(temperature=0.0, max_tokens=12, ignore_eos=True)
PROMPTS = ["hello there", "the quick brown fox", "a", "paged attention keeps blocks"]


def native_engine(model=None, **overrides):
    engine = make_engine(
        model or tiny_model(dtype=torch.bfloat16), forward_path=NATIVE, **overrides
    )
    assert engine.runner.native is not None
    return engine


def relative_error(got: torch.Tensor, want: torch.Tensor) -> float:
    return float((got.float() - want.float()).norm() / want.float().norm())


@pytest.mark.parametrize("rows", [1, 2, 5, 6, 7, 16, 100])
@pytest.mark.parametrize(("n", "k"), [(64, 64), (37, 70), (200, 33), (1, 3), (960, 576)])
def test_matrix_product_matches_f32_product_of_the_bf16_operands(rows, n, k):
    torch.manual_seed(rows * 1000 + n + k)
    x = torch.randn(rows, k).bfloat16()
    weight = torch.randn(n, k).bfloat16()
    pool = cpu.ThreadPool(2)
    got = cpu.gemm(pool, x, cpu.pack_weight(weight), n)
    pool.close()
    want = x.double() @ weight.double().T
    assert got.dtype == torch.float32 and got.shape == (rows, n)
    assert relative_error(got, want) < 1e-5


def test_a_rows_result_does_not_depend_on_the_other_rows_of_the_product():
    torch.manual_seed(1)
    x = torch.randn(13, 576).bfloat16()
    packed = cpu.pack_weight(torch.randn(300, 576).bfloat16())
    pool = cpu.ThreadPool(2)
    together = cpu.gemm(pool, x, packed, 300)
    alone = torch.cat([cpu.gemm(pool, x[i : i + 1], packed, 300) for i in range(13)])
    pool.close()
    assert torch.equal(together, alone)


def _first_step_logits(engine, prompt: list[int]) -> torch.Tensor:
    captured: list[torch.Tensor] = []
    execute = engine.runner.execute
    engine.runner.execute = lambda scheduled: captured.append(execute(scheduled)) or captured[-1]
    engine.generate([prompt], SamplingParams(temperature=0.0, max_tokens=1))
    engine.runner.execute = execute
    return captured[0][0]


@pytest.mark.parametrize(
    "variant",
    [
        {},
        {"n_kv_heads": 4},  # multi-head, no grouping
        {"n_kv_heads": 1},  # multi-query
        {"sliding_window": 5},
        {"rope_interleaved": True},
        {"dim": 48, "n_heads": 3, "n_kv_heads": 1, "ffn_hidden": 72},  # sizes off the 16/32 grid
        {"dim": 36, "n_heads": 3, "n_kv_heads": 1, "ffn_hidden": 50},  # head size 12: scalar paths
    ],
)
def test_prefill_logits_match_the_f32_model_on_the_same_weights(variant):
    model = tiny_model(dtype=torch.bfloat16, **variant)
    prompt = list(b"the native forward agrees with the reference")
    got = _first_step_logits(native_engine(model), prompt)
    reference = tiny_model(dtype=torch.bfloat16, **variant).float()
    with torch.no_grad():
        want = reference(torch.tensor([prompt]))[0, -1]
    assert got.dtype == torch.float32
    assert relative_error(got, want) < 2e-2


def test_decode_steps_match_the_f32_model_token_for_token():
    model = tiny_model(dtype=torch.bfloat16)
    prompt = list(b"decode through the paged cache")
    ((tokens,),) = native_engine(model).generate([prompt], GREEDY)
    reference = tiny_model(dtype=torch.bfloat16).float()
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(GREEDY.max_tokens):
            ids.append(int(reference(torch.tensor([ids]))[0, -1].argmax()))
    assert tokens == ids[len(prompt) :]


def test_batched_greedy_equals_unbatched_bit_for_bit():
    batched = native_engine().generate(PROMPTS, GREEDY)
    alone = [native_engine().generate([p], GREEDY)[0] for p in PROMPTS]
    assert batched == alone


def test_prefix_caching_gives_identical_outputs_with_fewer_prefill_tokens():
    shared = "a long shared system prompt that fills several blocks. "
    prompts = [shared + "first", shared + "second"]
    cached = native_engine(enable_prefix_caching=True)
    plain = native_engine(enable_prefix_caching=False)
    # one after the other: the second finds the first one's blocks in the cache
    warm = [cached.generate([p], GREEDY)[0] for p in prompts]
    assert warm == [plain.generate([p], GREEDY)[0] for p in prompts]
    assert cached.num_prefill_tokens < plain.num_prefill_tokens


def test_preemption_under_a_tiny_cache_completes_every_request_correctly():
    params = SamplingParams(temperature=0.0, max_tokens=24, ignore_eos=True)
    roomy = native_engine().generate(PROMPTS, params)
    tight = native_engine(num_blocks=14)
    assert tight.generate(PROMPTS, params) == roomy


def test_chunked_prefill_matches_one_shot_prefill():
    prompt = "chunked prefill splits this prompt over several steps " * 2
    one_shot = native_engine(max_num_batched_tokens=256).generate([prompt], GREEDY)
    chunked = native_engine(max_num_batched_tokens=16).generate([prompt], GREEDY)
    assert chunked == one_shot


def test_swapped_weights_are_repacked():
    engine = native_engine()
    before = engine.generate(PROMPTS[:2], GREEDY)
    other = tiny_model(seed=7, dtype=torch.bfloat16)
    engine.swap_weights(other.state_dict())
    assert engine.generate(PROMPTS[:2], GREEDY) == native_engine(other).generate(
        PROMPTS[:2], GREEDY
    )
    assert engine.generate(PROMPTS[:2], GREEDY) != before


def test_the_engine_picks_the_tables_path_for_this_cpu():
    bf16 = tiny_model(dtype=torch.bfloat16)
    expected = auto_path(torch.bfloat16, "cpu", cpu_features())
    assert make_engine(bf16).runner.path == expected


@pytest.mark.parametrize(("path", "kind"), [("native-portable", 0), ("native-avx2", 1)])
def test_the_portable_and_avx2_builds_match_the_reference_too(path, kind):
    """The builds a CPU without AVX512-BF16 runs: plain C loops and AVX2 FMAs."""
    lib = cpu.library_for(kind)
    if lib is None:
        pytest.skip(f"{path} does not run on this CPU: {cpu.why_unbuilt(kind)}")
    torch.manual_seed(3)
    x, weight = torch.randn(13, 70).bfloat16(), torch.randn(37, 70).bfloat16()
    packed = cpu.pack_weight(weight, lib)
    pool = cpu.ThreadPool(2, lib)
    got = cpu.gemm(pool, x, packed, 37)
    alone = torch.cat([cpu.gemm(pool, x[i : i + 1], packed, 37) for i in range(13)])
    pool.close()
    assert relative_error(got, x.double() @ weight.double().T) < 1e-5
    assert torch.equal(got, alone)
    engine = make_engine(tiny_model(dtype=torch.bfloat16), forward_path=path)
    assert engine.runner.native is not None and engine.runner.native.lib is lib
    prompt = list(b"the portable loops agree with the reference")
    got = _first_step_logits(engine, prompt)
    with torch.no_grad():
        want = tiny_model(dtype=torch.bfloat16).float()(torch.tensor([prompt]))[0, -1]
    assert relative_error(got, want) < 2e-2


def test_f32_models_and_disabled_native_keep_the_pytorch_forward(monkeypatch):
    assert make_engine(tiny_model()).runner.path == "packed-torch"
    bf16 = tiny_model(dtype=torch.bfloat16)
    monkeypatch.setenv("SAI_CPU_KERNELS", "0")
    cpu.load_library.cache_clear()
    cpu.library_for.cache_clear()
    try:
        assert not cpu.available()
        assert make_engine(bf16).runner.native is None
        with pytest.raises(UserError, match="SAI_CPU_KERNELS=0") as error:
            make_engine(bf16, forward_path=NATIVE)
        assert error.value.field == "forward_path"
    finally:
        monkeypatch.delenv("SAI_CPU_KERNELS")
        cpu.load_library.cache_clear()
        cpu.library_for.cache_clear()
    assert cpu.available()


def test_native_forward_refuses_a_machine_without_the_library(monkeypatch):
    monkeypatch.setattr(cpu, "load_library", lambda: None)
    import scalable_ai.infer.cpu.native as native

    monkeypatch.setattr(native, "load_library", lambda: None)
    engine = make_engine(tiny_model())
    with pytest.raises(RuntimeError, match="not available"):
        NativeForward(tiny_model(dtype=torch.bfloat16), engine.cache)


@pytest.mark.slow
def test_smollm2_native_logits_match_its_f32_model_and_answer_paris():
    from scalable_ai.infer.engine import EngineConfig, LLMEngine
    from scalable_ai.model.registry import load_pretrained

    model, tokenizer = load_pretrained("smollm2-135m", dtype="bfloat16")
    reference, _ = load_pretrained("smollm2-135m", dtype="float32")
    engine = LLMEngine(
        model,
        tokenizer,
        EngineConfig(max_model_len=256, kv_cache_megabytes=16, forward_path=NATIVE),
        eos_token_ids=sorted(tokenizer.stop_ids()),
    )
    assert engine.runner.native is not None
    chat = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}]
    )
    prompt = tokenizer.encode(chat)
    got = _first_step_logits(engine, prompt)
    with torch.no_grad():
        want = reference(torch.tensor([prompt]))[0, -1]
    assert relative_error(got, want) < 2e-2
    assert int(got.argmax()) == int(want.argmax())
    ((answer,),) = engine.generate([prompt], SamplingParams(temperature=0.0, max_tokens=16))
    assert "Paris" in tokenizer.decode(answer)


def test_token_ids_outside_the_vocabulary_are_refused_naming_the_prompt(live_server):
    import httpx

    response = httpx.post(
        f"{live_server.url}/v1/completions",
        json={"model": "tiny", "prompt": [5, 99999], "max_tokens": 4},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["param"] == "prompt" and "[0, 260)" in error["message"]
    ok = httpx.post(
        f"{live_server.url}/v1/completions",
        json={"model": "tiny", "prompt": [5, 6], "max_tokens": 2},
    )
    assert ok.status_code == 200
