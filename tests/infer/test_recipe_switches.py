"""Models with the pre-training recipe switches on are served as their own forward computes
them: the fused, packed and native paths hard-code the Llama block, so the engine must not
run such a model through them (it takes the model's own forward with the paged cache)."""

from __future__ import annotations

import pytest
import torch

from scalable_ai.infer.sampling import SamplingParams
from tests.infer.conftest import ByteTokenizer, make_engine, tiny_model

PROMPTS = ["The capital of France is", "1 2 3 4 5 6 7 8", "hello hello hello hello"]
GREEDY = SamplingParams(temperature=0.0, max_tokens=8, ignore_eos=True)
SWITCHES = [
    dict(qk_norm=True),
    dict(mlp_activation="relu2"),
    # The tiny model's raw logits reach ~24: a cap of 20 bends them (tanh(18/20) = 0.72)
    # without saturating; a cap of 3 made every top logit exactly 3.0 in bf16, so greedy
    # compared tie-breaks, not forwards (it failed on AMD EPYC, passed on Intel AMX).
    dict(logit_softcap=20.0),
    dict(tie_embeddings=False),
]


@torch.no_grad()
def recomputed_greedy(model, prompt: str) -> list[int]:
    """No cache: the whole sequence through the model's forward for every new token."""
    ids = ByteTokenizer().encode(prompt)
    out: list[int] = []
    for _ in range(GREEDY.max_tokens):
        out.append(int(model(torch.tensor([ids + out]))[0, -1].argmax()))
    return out


@torch.no_grad()
def shortfalls_from_the_best(model, prompt: str, tokens: list[int]) -> list[float]:
    """Teacher-forced on ``tokens``: how far each chosen token's logit (recomputed, no cache)
    sits below that step's best one, relative to the best's magnitude."""
    ids = ByteTokenizer().encode(prompt)
    gaps = []
    for step, token in enumerate(tokens):
        logits = model(torch.tensor([ids + tokens[:step]]))[0, -1].float()
        best = logits.max()
        gaps.append(float((best - logits[token]) / best.abs().clamp_min(1.0)))
    return gaps


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["f32", "bf16"])
@pytest.mark.parametrize("switches", SWITCHES, ids=lambda s: ",".join(s))
def test_switched_models_generate_what_their_forward_computes(switches, dtype):
    model = tiny_model(dtype=dtype, **switches)
    engine = make_engine(model)
    outputs = engine.generate(PROMPTS, GREEDY)
    for prompt, choices in zip(PROMPTS, outputs, strict=True):
        if dtype == torch.float32:
            assert choices[0] == recomputed_greedy(model, prompt)
        else:
            # bf16 rounds differently with the cache than without (and by CPU: AVX-512 bf16
            # vs AMX), so near-ties may break either way: every choice must be the best
            # logit within two bf16 steps (2 * 2**-8 relative); a wrong forward is far off.
            assert max(shortfalls_from_the_best(model, prompt, choices[0])) <= 2**-7


@pytest.mark.parametrize("switches", SWITCHES, ids=lambda s: ",".join(s))
def test_switched_models_report_their_forwards_log_probabilities(switches):
    """Greedy tokens cannot see a soft cap (tanh keeps the order); the probabilities do."""
    model = tiny_model(**switches)
    engine = make_engine(model)
    params = SamplingParams(temperature=0.0, max_tokens=4, ignore_eos=True, logprobs=0)
    request = engine.add_request(PROMPTS[0], params)
    reported = []
    while engine.has_unfinished_requests():
        for output in engine.step():
            if output.request_id == request:
                reported += [(t.token_id, t.logprob) for t in output.choices[0].logprobs]
    ids = ByteTokenizer().encode(PROMPTS[0]) + [token for token, _ in reported]
    with torch.no_grad():
        expected = torch.log_softmax(model(torch.tensor([ids]))[0].double(), -1)
    start = len(ids) - len(reported) - 1
    for offset, (token, logprob) in enumerate(reported):
        assert logprob == pytest.approx(float(expected[start + offset, token]), abs=1e-4)
