"""Continuous batching over a paged cache computes exactly what one-at-a-time decoding does."""

from __future__ import annotations

import pytest
import torch

from scalable_ai.infer.sampling import SamplingParams
from tests.infer.conftest import ByteTokenizer, make_engine, tiny_model

PROMPTS = [
    "The capital of France is",
    "a",
    "Once upon a time, in a land far away, there lived a very curious cat named Tom.",
    "1 2 3 4 5 6 7 8",
    "hello hello hello hello",
    "Paged attention stores keys in fixed-size blocks.",
]
GREEDY = SamplingParams(temperature=0.0, max_tokens=12, ignore_eos=True)


@torch.no_grad()
def reference_greedy(prompt: str, max_tokens: int, **config) -> list[int]:
    """No cache at all: rerun the whole sequence through the model for every new token."""
    model = tiny_model(**config)
    ids = ByteTokenizer().encode(prompt)
    out: list[int] = []
    for _ in range(max_tokens):
        logits = model(torch.tensor([ids + out]))
        out.append(int(logits[0, -1].argmax()))
    return out


def test_batched_greedy_equals_unbatched_token_for_token():
    batched = make_engine().generate(PROMPTS, GREEDY)
    for prompt, choices in zip(PROMPTS, batched, strict=True):
        alone = make_engine().generate([prompt], GREEDY)[0]
        assert choices == alone
        assert choices[0] == reference_greedy(prompt, GREEDY.max_tokens)


def test_the_models_own_forward_through_the_paged_backend_gives_the_same_tokens():
    packed = make_engine().generate(PROMPTS, GREEDY)
    seam = make_engine(forward_path="model").generate(PROMPTS, GREEDY)
    assert packed == seam


@pytest.mark.parametrize(
    "variant",
    [{"sliding_window": 8}, {"n_experts": 4, "experts_per_token": 2}],
    ids=["sliding-window", "mixture-of-experts"],
)
def test_other_architectures_decode_through_the_paged_cache_like_the_model(variant):
    engine = make_engine(tiny_model(**variant), max_num_batched_tokens=16)
    outputs = engine.generate(PROMPTS, GREEDY)
    for prompt, choices in zip(PROMPTS, outputs, strict=True):
        assert choices[0] == reference_greedy(prompt, GREEDY.max_tokens, **variant)


def test_chunked_prefill_splits_long_prompts_and_matches_reference():
    engine = make_engine(max_num_batched_tokens=8)
    prompt = PROMPTS[2]
    assert engine.generate([prompt], GREEDY)[0][0] == reference_greedy(prompt, 12)


def test_prefix_caching_gives_identical_outputs_with_fewer_prefill_tokens():
    shared = "System: you are a helpful assistant who answers briefly. User: "
    prompts = [shared + q for q in ("hi", "what is 2+2?", "name a color")]
    cold = make_engine(enable_prefix_caching=False)
    cold_out = [cold.generate([p], GREEDY)[0] for p in prompts]
    warm = make_engine()
    warm_out = [warm.generate([p], GREEDY)[0] for p in prompts]
    assert warm_out == cold_out
    assert warm.num_prefill_tokens < cold.num_prefill_tokens
    assert warm.pool.hit_rate > 0.5


def test_preemption_under_a_tiny_cache_completes_every_request_correctly():
    # 24 blocks of 4 tokens cannot hold six sequences of ~30-90 tokens at once.
    engine = make_engine(num_blocks=24, max_model_len=96)
    params = SamplingParams(temperature=0.0, max_tokens=12, ignore_eos=True)
    outputs = engine.generate(PROMPTS, params)
    assert engine.scheduler.num_preemptions > 0
    for prompt, choices in zip(PROMPTS, outputs, strict=True):
        assert choices[0] == reference_greedy(prompt, 12)
    assert engine.pool.num_used == 0


def test_finished_and_aborted_requests_free_their_blocks():
    engine = make_engine()
    engine.add_request("keep going for a while", GREEDY, request_id="a")
    engine.add_request("also this one", GREEDY, request_id="b")
    engine.step()
    assert engine.pool.num_used > 0
    engine.abort("a")
    while engine.has_unfinished_requests():
        engine.step()
    assert engine.pool.num_used == 0


def test_n_choices_with_a_seed_are_reproducible_and_distinct():
    params = SamplingParams(n=3, temperature=1.0, max_tokens=10, seed=7, ignore_eos=True)
    first = make_engine().generate(["Once"], params)[0]
    second = make_engine().generate(["Once"], params)[0]
    assert first == second
    assert len({tuple(c) for c in first}) > 1


def test_swap_weights_in_place_changes_outputs():
    engine = make_engine()
    before = engine.generate(["swap"], GREEDY)[0]
    engine.swap_weights(tiny_model(seed=1).state_dict())
    after = engine.generate(["swap"], GREEDY)[0]
    assert after != before
    assert after[0] == make_engine_with_seed(1).generate(["swap"], GREEDY)[0][0]


def make_engine_with_seed(seed: int):
    engine = make_engine()
    engine.swap_weights(tiny_model(seed=seed).state_dict())
    return engine


def _decode_logits(engine, prompt: str) -> tuple[torch.Tensor, list[int]]:
    """Logits of the first single-token (decode) step after the prompt's prefill."""
    captured = []
    execute = engine.runner.execute
    engine.runner.execute = lambda scheduled: captured.append(execute(scheduled)) or captured[-1]
    engine.add_request(prompt, GREEDY, request_id="probe")
    engine.step()
    engine.step()
    assert engine.scheduler.running[0].num_computed == len(prompt) + 1
    sequence = list(engine.requests["probe"].sequences[0].token_ids[:-1])
    return captured[-1][0].float(), sequence


def test_bf16_single_stream_decode_through_f16_matrices_matches_the_f32_model():
    prompt = PROMPTS[0]  # fits one step, so the second step is a lone decode token
    half_logits, tokens = _decode_logits(
        make_engine(tiny_model(dtype=torch.bfloat16), forward_path="packed-onednn-f16"), prompt
    )
    bf16_logits, _ = _decode_logits(
        make_engine(tiny_model(dtype=torch.bfloat16), forward_path="packed-onednn"),
        prompt,
    )
    with torch.no_grad():
        exact = tiny_model()(torch.tensor([tokens]))[0, -1]
    scale = exact.abs().max()
    assert (half_logits - exact).abs().max() / scale < 0.05
    assert (half_logits - exact).abs().max() <= 1.5 * (bf16_logits - exact).abs().max()


def test_bf16_prepacked_batched_steps_give_the_models_own_tokens():
    packed = make_engine(tiny_model(dtype=torch.bfloat16), forward_path="packed-onednn")
    assert packed.runner.packed is not None and packed.runner.packed.use_onednn
    seam = make_engine(tiny_model(dtype=torch.bfloat16), forward_path="model")
    assert packed.generate(PROMPTS, GREEDY) == seam.generate(PROMPTS, GREEDY)
