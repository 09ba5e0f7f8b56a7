"""Part 3, hidden: speculative sampling keeps the target's distribution, and the loop is
exact for greedy decoding (Leviathan et al., 2023; Chen et al., 2023)."""

import pytest
import torch

from scalable_ai.model import Transformer


def _empirical_first_token(accept, draft_probs, target_probs, trials: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(1234)
    counts = torch.zeros(target_probs.shape[-1])
    for _ in range(trials):
        drafted = int(torch.multinomial(draft_probs[0], 1, generator=generator))
        emitted = accept([drafted], draft_probs, target_probs, generator)
        counts[emitted[0]] += 1
    return counts / trials


@pytest.mark.points(6)
def test_the_first_token_follows_the_target_distribution(submission):
    """Whatever the draft proposes, the emitted token is distributed as the target says
    (total variation under 0.03 over 6000 seeded trials)."""
    accept = submission.module("speculative").accept_draft
    target = torch.tensor([[0.5, 0.2, 0.2, 0.1], [0.25, 0.25, 0.25, 0.25]])
    draft = torch.tensor([[0.1, 0.6, 0.1, 0.2]])
    observed = _empirical_first_token(accept, draft, target, trials=6000)
    distance = 0.5 * (observed - target[0]).abs().sum().item()
    assert distance < 0.03, f"emitted {observed.tolist()}, target {target[0].tolist()}"


@pytest.mark.points(5)
def test_a_rejection_samples_the_residual(submission):
    """A rejected draft token is replaced by a draw from max(p - q, 0), normalized: here
    only token 0 has p > q, so every rejection emits 0."""
    accept = submission.module("speculative").accept_draft
    target = torch.tensor([[0.7, 0.3, 0.0], [1 / 3, 1 / 3, 1 / 3]])
    draft = torch.tensor([[0.1, 0.9, 0.0]])
    generator = torch.Generator().manual_seed(7)
    rejections = [accept([1], draft, target, generator) for _ in range(300)]
    replaced = [emitted[0] for emitted in rejections if len(emitted) == 1]
    assert len(replaced) > 150, "token 1 (p/q = 1/3) should be rejected about 2 times in 3"
    assert set(replaced) == {0}


def _greedy(model: Transformer, prompt: list[int], n: int) -> list[int]:
    tokens = list(prompt)
    with torch.no_grad():
        for _ in range(n):
            tokens.append(int(model(torch.tensor([tokens]))[0, -1].argmax()))
    return tokens[len(prompt) :]


@pytest.mark.points(6)
def test_greedy_speculative_generation_equals_the_targets_own(submission, lab):
    """With a different draft model, greedy speculative decoding emits exactly the target's
    greedy tokens."""
    generate = submission.module("speculative").speculative_generate
    target, draft = lab.tiny_model(seed=0, n_layers=3), lab.tiny_model(seed=1)
    prompt = list(b"speculative decoding")
    tokens, _ = generate(target, draft, prompt, max_new_tokens=24, k=3, temperature=0.0)
    assert tokens == _greedy(target, prompt, 24)
