"""Every forward path the engine can choose, checked on the machine that runs the tests.

A fast path tuned on one CPU can be wrong on another (issue 12: bf16 products that gave
"Paris" on an AMD EPYC answered in French on an Intel Xeon with AMX). So each path of
``forward_paths.PATHS`` that this CPU runs, in each dtype it takes, is compared with the
independent reference, the course's ``Transformer`` in float32 recomputing the whole
sequence for every token (no cache), on SmolLM2-135M:

- next-token logits after each prompt: float32 paths within 2e-3 of the reference (logits
  of magnitude ~30, summation order only), bf16 paths within 5% relative error (L2 over the
  vocabulary: bf16 keeps 8 bits of mantissa, and the PyTorch paths round every activation
  and the logits to it, measured 2.5%; a wrong product is off by 100%), and the same argmax;
- the greedy continuation: the same first ``GREEDY_TOKENS`` tokens as the reference.

A path this CPU cannot run is skipped with the reason, "not exercised on this CPU", which
``-ra`` prints in the summary: never a silent pass.
"""

from __future__ import annotations

import copy

import pytest
import torch

from scalable_ai.infer.engine import EngineConfig, LLMEngine
from scalable_ai.infer.forward_paths import PATHS, unavailable_reason
from scalable_ai.infer.sampling import SamplingParams

pytestmark = pytest.mark.slow

GREEDY_TOKENS = 12
CHAT = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"
PROMPTS = [CHAT, "The capital of France is", "def fibonacci(n):\n    if n < 2:\n"]
#: Paths for float32 models; every path takes bf16 (the native and oneDNN ones only bf16).
F32_PATHS = ("packed-torch", "model")
CASES = [(path, "bfloat16") for path in PATHS] + [(path, "float32") for path in F32_PATHS]
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def reference():
    """SmolLM2-135M in float32 with its logits and greedy continuation per prompt, and the
    tokenizer; computed once, without any cache. One torch thread: ``make test`` runs two
    workers on two cores, and spinning OpenMP threads only burn the other worker's time."""
    from scalable_ai.model.registry import load_pretrained

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    model, tokenizer = load_pretrained("smollm2-135m", dtype="float32")
    expected = {}
    with torch.inference_mode():
        for prompt in PROMPTS:
            ids = tokenizer.encode(prompt)
            first = model(torch.tensor([ids]))[0, -1]
            continuation = [int(first.argmax())]
            for _ in range(GREEDY_TOKENS - 1):
                logits = model(torch.tensor([ids + continuation]))[0, -1]
                continuation.append(int(logits.argmax()))
            expected[prompt] = (ids, first, continuation)
    yield model, tokenizer, expected
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def bf16_model(reference):
    """The same weights rounded to bf16 (as ``load_pretrained(dtype="bfloat16")`` does)."""
    return copy.deepcopy(reference[0]).to(torch.bfloat16)


def greedy_run(engine: LLMEngine, prompt: list[int]) -> tuple[torch.Tensor, list[int]]:
    """The logits the engine samples the first new token from, and its greedy tokens."""
    captured: list[torch.Tensor] = []
    execute = engine.runner.execute
    engine.runner.execute = lambda scheduled: captured.append(execute(scheduled)) or captured[-1]
    greedy = SamplingParams(temperature=0.0, max_tokens=GREEDY_TOKENS, ignore_eos=True)
    try:
        [[tokens]] = engine.generate([prompt], greedy)
    finally:
        engine.runner.execute = execute
    return captured[0][0].float(), tokens


@pytest.mark.parametrize(("path", "dtype"), CASES, ids=[f"{p}-{d}" for p, d in CASES])
def test_the_path_gives_the_float32_models_logits_and_greedy_tokens(
    path, dtype, reference, bf16_model
):
    f32_model, tokenizer, expected = reference
    model = bf16_model if dtype == "bfloat16" else f32_model
    reason = unavailable_reason(path, model, CPU)
    if reason is not None:
        pytest.skip(f"{path} ({dtype}) not exercised on this CPU: {reason}")
    config = EngineConfig(
        max_model_len=256, kv_cache_megabytes=16, forward_path=path, enable_prefix_caching=False
    )
    engine = LLMEngine(model, tokenizer, config)
    assert engine.runner.path == path
    for prompt in PROMPTS:
        ids, want, continuation = expected[prompt]
        got, tokens = greedy_run(engine, ids)
        if dtype == "float32":
            assert (got - want).abs().max() < 2e-3, prompt
        else:
            assert float((got - want).norm() / want.norm()) < 5e-2, prompt
        assert int(got.argmax()) == int(want.argmax()), prompt
        assert tokens == continuation, (prompt, tokenizer.decode(tokens))
