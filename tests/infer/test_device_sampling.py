"""Sampling on the logits' own device (``infer/device_sampling.py``) draws from the same
distribution the processors define, checked against an independent f64 reference.

The code is device-agnostic tensor work, so it runs here on CPU tensors exactly as it runs on
a GPU (where ``sample`` routes to it).
"""

from __future__ import annotations

import pytest
import torch

from scalable_ai.infer.device_sampling import sample_on_device, samples_on_device
from scalable_ai.infer.sampling import SamplingParams, _uniforms
from scalable_ai.infer.sequence import TokenSequence

LOGITS = torch.tensor([2.0, 1.5, 1.4, 0.3, 0.0, -0.5, -1.0, -3.0])


def seqs_of(params: SamplingParams, count: int) -> list[TokenSequence]:
    return [TokenSequence("r", i, [1, 2, 3], params) for i in range(count)]


def reference(logits: torch.Tensor, p: SamplingParams) -> torch.Tensor:
    """The processors one by one, in f64, over token ids (no sorting tricks)."""
    x = logits.double() / p.temperature
    probs = x.softmax(-1)
    keep = torch.ones_like(probs, dtype=torch.bool)
    if p.top_k > 0:
        keep &= probs >= probs.topk(p.top_k).values[-1]
    renormalized = torch.where(keep, probs, 0.0)
    renormalized = renormalized / renormalized.sum()
    if p.top_p < 1.0:
        better = torch.stack([renormalized[renormalized > q].sum() for q in renormalized])
        keep &= better <= p.top_p
    keep &= probs >= p.min_p * probs.max()
    kept = torch.where(keep, probs, 0.0)
    return kept / kept.sum()


@pytest.mark.parametrize(
    "params",
    [
        SamplingParams(temperature=1.0),
        SamplingParams(temperature=0.5, top_k=3),
        SamplingParams(temperature=1.3, top_p=0.6),
        SamplingParams(temperature=0.8, min_p=0.3),
        SamplingParams(temperature=0.7, top_k=5, top_p=0.8, min_p=0.05),
    ],
    ids=["temperature", "top-k", "top-p", "min-p", "all-four"],
)
def test_draws_follow_the_filtered_distribution(params):
    rows = 40_000
    generator = torch.Generator().manual_seed(0)
    uniforms = torch.rand(rows, dtype=torch.float64, generator=generator)
    tokens = sample_on_device(LOGITS.expand(rows, -1), seqs_of(params, rows), uniforms)
    counts = torch.bincount(torch.tensor(tokens), minlength=len(LOGITS)).double() / rows
    expected = reference(LOGITS, params)
    assert (counts[expected == 0] == 0).all(), "a filtered-out token was drawn"
    sigma = (expected * (1 - expected) / rows).sqrt()
    assert ((counts - expected).abs() <= 5 * sigma + 1e-12).all(), (counts, expected)


def test_greedy_rows_take_the_argmax_with_ties_to_the_lowest_id_beside_random_rows():
    logits = torch.tensor([[0.0, 3.0, 3.0, 1.0], [5.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 9.0]])
    seqs = [
        TokenSequence("a", 0, [1], SamplingParams(temperature=0.0)),
        TokenSequence("b", 0, [1], SamplingParams(temperature=1.0, top_k=1)),
        TokenSequence("c", 0, [1], SamplingParams(temperature=0.0)),
    ]
    assert sample_on_device(logits, seqs, torch.rand(3, dtype=torch.float64)) == [1, 0, 3]


def test_a_seed_repeats_its_tokens_and_two_seeds_differ():
    params = SamplingParams(temperature=1.0, seed=1234)
    logits = torch.randn(1, 1000)

    def run(seed_params: SamplingParams) -> list[int]:
        seqs = seqs_of(seed_params, 1)
        return [sample_on_device(logits, seqs, _uniforms(seqs))[0] for _ in range(20)]

    assert run(params) == run(params)
    assert run(params) != run(SamplingParams(temperature=1.0, seed=99))


def test_rows_needing_penalties_logprobs_or_min_tokens_stay_with_the_host_sampler():
    assert samples_on_device(seqs_of(SamplingParams(top_p=0.9, min_p=0.1), 2))
    assert not samples_on_device(seqs_of(SamplingParams(logprobs=2), 1))
    assert not samples_on_device(seqs_of(SamplingParams(repetition_penalty=1.2), 1))
    assert not samples_on_device(seqs_of(SamplingParams(presence_penalty=0.5), 1))
    assert not samples_on_device(seqs_of(SamplingParams(min_tokens=3, max_tokens=8), 1))


def test_nan_logits_fail_loudly():
    logits = torch.full((2, 5), float("nan"))
    with pytest.raises(RuntimeError, match="finite"):
        sample_on_device(logits, seqs_of(SamplingParams(), 2), torch.rand(2, dtype=torch.float64))
