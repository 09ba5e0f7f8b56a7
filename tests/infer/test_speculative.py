"""Speculative decoding (prompt lookup) keeps the target's outputs: the same greedy tokens,
and sampled tokens from the same distribution (Leviathan et al. 2023, Theorem 1)."""

from __future__ import annotations

import httpx
import numpy as np
import openai
import pytest
import torch
from prometheus_client.parser import text_string_to_metric_families
from scipy.stats import chisquare

from scalable_ai.infer import speculative
from scalable_ai.infer.sampling import SamplingParams
from scalable_ai.infer.speculative import propose_ngram, verify_sampled

from .conftest import make_engine, tiny_model

REPEATING = "def add(a, b):\n    return a + b\n\ndef add(a, b):\n    return a + b\n\ndef add("


def test_prompt_lookup_proposes_what_followed_the_last_ngram():
    assert propose_ngram([1, 2, 3, 4, 9, 1, 2, 3], k=3) == [4, 9, 1]
    assert propose_ngram([5, 6, 7, 6], k=2) == [7, 6]  # falls back to the 1-gram
    assert propose_ngram([1, 2, 3], k=2) == []


def test_greedy_output_is_identical_with_and_without_speculation():
    prompts = [REPEATING, "abcabcabcabcab", "no repeats here!"]
    plain = make_engine().generate(prompts, SamplingParams(max_tokens=40, temperature=0))
    engine = make_engine()
    spec = engine.generate(
        prompts,
        SamplingParams(max_tokens=40, temperature=0, speculative="ngram", num_speculative_tokens=5),
    )
    assert spec == plain
    stats = engine.speculation
    assert stats.num_accepted_tokens > 20 and stats.tokens_per_step > 1.5
    # Mixed batch: speculating, plain and multi-choice requests in the same steps.
    mixed = make_engine()
    a = mixed.add_request(
        REPEATING, SamplingParams(max_tokens=40, temperature=0, speculative="ngram")
    )
    b = mixed.add_request(prompts[1], SamplingParams(max_tokens=40, temperature=0))
    c = mixed.add_request(
        prompts[1], SamplingParams(n=2, max_tokens=40, temperature=0, speculative="ngram")
    )
    out: dict[tuple[str, int], list[int]] = {}
    while mixed.has_unfinished_requests():
        for result in mixed.step():
            for choice in result.choices:
                out.setdefault((result.request_id, choice.index), []).extend(choice.token_ids)
    assert out[(a, 0)] == plain[0][0]
    assert out[(b, 0)] == out[(c, 0)] == out[(c, 1)] == plain[1][0]
    assert mixed.pool.num_used == 0


def _exact_probabilities(model, prompt_ids, top_k, length):
    """P(t1 .. t_length) under top-k sampling, from plain forwards of the model (no engine)."""

    def next_probs(ids):
        with torch.no_grad():
            logits = model(torch.tensor([ids]))[0, -1].double()
        top = logits.topk(top_k)
        return dict(zip(top.indices.tolist(), top.values.softmax(0).tolist(), strict=True))

    laws = {(): 1.0}
    for _ in range(length):
        laws = {
            (*prefix, token): p * q
            for prefix, p in laws.items()
            for token, q in next_probs([*prompt_ids, *prefix]).items()
        }
    return laws


def test_sampled_outputs_follow_the_target_distribution(monkeypatch):
    """Chi-square on the first three tokens (the second and third come out of one verified
    chunk: a draft accepted, or rejected and redrawn, then the target's next token):
    4,000 seeded samples against the exact top-3 probabilities.

    The noise model never repeats itself, so prompt lookup would rarely guess; the drafts
    here come from another deterministic proposer, the model's own argmax (the rule's
    guarantee holds for any proposer that is a function of the context), which is right
    often enough for both branches of the rule to run thousands of times."""
    model = tiny_model()

    guesses: dict[tuple[int, ...], int] = {}  # 3 contexts in all: the prompt + each t1

    def argmax_proposer(token_ids, k, max_n=3):
        context = tuple(token_ids)
        if context not in guesses:
            with torch.no_grad():
                guesses[context] = int(model(torch.tensor([context]))[0, -1].argmax())
        return [guesses[context]][:k]

    monkeypatch.setattr(speculative, "propose_ngram", argmax_proposer)
    engine = make_engine(model, max_num_seqs=256, num_blocks=4096)
    prompt = "xyxyxyxyxyxyx"
    params = SamplingParams(
        n=500,
        max_tokens=3,
        temperature=1.0,
        top_k=3,
        ignore_eos=True,
        speculative="ngram",
        num_speculative_tokens=1,
    )
    samples = []
    for batch in range(8):  # choice i of a request draws from seed + i: fresh seeds per batch
        params.seed = 1000 * batch
        samples += [tuple(choice) for choice in engine.generate([prompt], params)[0]]
    assert engine.speculation.num_verify_steps >= 3000
    assert 0.2 < engine.speculation.acceptance_rate < 0.95  # both branches of the rule ran
    expected = _exact_probabilities(model, list(prompt.encode()), 3, 3)
    keys = sorted(expected)
    observed = np.array([sum(1 for s in samples if s == k) for k in keys], dtype=float)
    assert observed.sum() == len(samples)  # nothing outside the top-3 support
    frequencies = np.array([expected[k] for k in keys]) * len(samples)
    assert chisquare(observed, frequencies).pvalue > 1e-3


def test_rejection_rule_with_a_draft_distribution_matches_the_target():
    """The general rule (draft probabilities q, not one-hot): the first token's law is p."""
    generator = torch.Generator().manual_seed(0)
    logits = torch.tensor([[2.0, 1.0, 0.0, -1.0], [0.0, 0.0, 0.0, 0.0]])
    q = torch.tensor([[0.1, 0.2, 0.3, 0.4]], dtype=torch.float64)
    params = SamplingParams(temperature=1.0)
    counts = np.zeros(4)
    for _ in range(8000):
        draft = int(torch.multinomial(q[0], 1, generator=generator))
        verdict = verify_sampled(logits, [draft], params, generator, draft_probs=q)
        counts[verdict.tokens[0]] += 1
    p = logits[0].double().softmax(0).numpy()
    assert chisquare(counts, p * counts.sum()).pvalue > 1e-3


def test_server_opt_in_and_metrics(live_server):
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="unused")
    ask = dict(model="tiny", prompt=REPEATING, max_tokens=30, temperature=0)
    plain = client.completions.create(**ask).choices[0].text
    spec = client.completions.create(**ask, extra_body={"speculative": "ngram"}).choices[0].text
    assert spec == plain
    text = httpx.get(f"{live_server.url}/metrics").text
    values = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert values["sai_spec_decode_accepted_tokens"] > 0
    assert values["sai_spec_decode_tokens_per_step"] > 1.0
    with pytest.raises(openai.BadRequestError):
        client.completions.create(**ask, extra_body={"speculative": "medusa"})


def test_a_draft_model_keeps_greedy_output_and_the_sampled_distribution():
    """Two tiny models with one vocabulary: the draft (the target with every weight
    perturbed, so that its q is near p but not p) proposes, the target verifies with the
    general rule (the draft's q at every position)."""
    target = tiny_model()
    draft = tiny_model()
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for parameter in draft.parameters():
            parameter.add_(
                0.1 * parameter.std() * torch.randn(parameter.shape, generator=generator)
            )
    prompts = [REPEATING, "abcabcabcabcab"]
    plain = make_engine(target).generate(prompts, SamplingParams(max_tokens=30, temperature=0))
    engine = make_engine(target)
    engine.set_draft_model(draft)
    spec = SamplingParams(max_tokens=30, temperature=0, speculative="draft")
    assert engine.generate(prompts, spec) == plain
    assert engine.speculation.num_accepted_tokens > 0
    assert engine.drafter is not None and engine.drafter.pool.num_used == 0  # shadows freed
    # Sampled: the first three tokens' law against the exact top-3 probabilities.
    engine = make_engine(target, max_num_seqs=256, num_blocks=4096)
    engine.set_draft_model(draft)
    params = SamplingParams(
        n=500,
        max_tokens=3,
        temperature=1.0,
        top_k=3,
        ignore_eos=True,
        speculative="draft",
        num_speculative_tokens=2,
    )
    samples = []
    for batch in range(4):
        params.seed = 1000 * batch
        samples += [tuple(c) for c in engine.generate(["xyxyxyxyxyxyx"], params)[0]]
    assert engine.speculation.num_verify_steps >= 1500
    assert 0.05 < engine.speculation.acceptance_rate < 0.95  # both branches of the rule ran
    expected = _exact_probabilities(target, list(b"xyxyxyxyxyxyx"), 3, 3)
    keys = sorted(expected)
    observed = np.array([sum(1 for s in samples if s == k) for k in keys], dtype=float)
    assert observed.sum() == len(samples)
    frequencies = np.array([expected[k] for k in keys]) * len(samples)
    assert chisquare(observed, frequencies).pvalue > 1e-3
