"""The masked diffusion objective: the NELBO on hand-computed cases, the forward masking,
the stratified times, and the bidirectional switch of the model core."""

from __future__ import annotations

import math

import pytest
import torch

from scalable_ai.diffusion.objective import (
    MIN_TIME,
    diffusion_loss,
    diffusion_model_config,
    mask_tokens,
    masked_diffusion_loss,
    sample_times,
)
from scalable_ai.errors import UserError
from scalable_ai.model.config import ModelConfig
from scalable_ai.model.transformer import Transformer


def tiny(**overrides: object) -> ModelConfig:
    fields = dict(vocab_size=32, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, ffn_hidden=64)
    return ModelConfig(**{**fields, "max_seq_len": 64, **overrides})  # type: ignore[arg-type]


def test_the_loss_is_the_one_over_t_weighted_nll_of_masked_tokens_per_token():
    # Vocabulary of 2; every position's logits are (ln 3, 0): p(0) = 3/4, p(1) = 1/4.
    logits = torch.tensor([math.log(3.0), 0.0]).expand(2, 3, 2).clone()
    x0 = torch.tensor([[0, 1, 0], [1, 1, 1]])
    masked = torch.tensor([[True, True, False], [False, False, True]])
    t = torch.tensor([0.5, 0.25])
    # Row 0: masked tokens 0 and 1 cost ln(4/3) and ln 4, weighted 1/0.5, over L = 3 tokens.
    row0 = (math.log(4 / 3) + math.log(4)) / 0.5 / 3
    # Row 1: one masked token 1 costs ln 4, weighted 1/0.25, over 3 tokens.
    row1 = math.log(4) / 0.25 / 3
    loss = masked_diffusion_loss(logits, x0, masked, t)
    assert loss.item() == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_unmasked_tokens_cost_nothing_whatever_the_model_says():
    logits = torch.randn(1, 4, 5)
    x0 = torch.tensor([[1, 2, 3, 4]])
    assert (
        masked_diffusion_loss(logits, x0, torch.zeros(1, 4, dtype=torch.bool), torch.ones(1)) == 0
    )


def test_a_uniform_model_pays_ln_v_per_token_in_expectation():
    """E_t[(1/t) * t * L * ln V] / L = ln V: the bound of a model that knows nothing is the
    uniform code length, whatever the masking ratios drawn."""
    generator = torch.Generator().manual_seed(0)
    vocab, length, batch = 7, 64, 512

    class Uniform(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.zeros(*x.shape, vocab)

    x0 = torch.randint(0, vocab - 1, (batch, length), generator=generator)
    loss = diffusion_loss(Uniform(), x0, mask_token_id=vocab - 1, generator=generator)
    assert loss.item() == pytest.approx(math.log(vocab), rel=0.02)


def test_each_token_is_masked_with_its_rows_probability():
    generator = torch.Generator().manual_seed(1)
    x0 = torch.randint(0, 10, (3, 20_000), generator=generator)
    xt, masked = mask_tokens(x0, torch.tensor([0.0, 0.3, 1.0]), 10, generator)
    fractions = masked.float().mean(dim=1)
    assert fractions[0] == 0 and fractions[2] == 1
    assert fractions[1].item() == pytest.approx(0.3, abs=0.01)
    assert torch.equal(xt[masked], torch.full_like(xt[masked], 10))
    assert torch.equal(xt[~masked], x0[~masked])


def test_times_are_stratified_one_per_slice_of_the_unit_interval():
    times = sample_times(8, torch.device("cpu"), torch.Generator().manual_seed(2))
    assert times.min() >= MIN_TIME and times.max() <= 1
    for index, time in enumerate(times.tolist()):
        assert index / 8 - 1e-6 <= (time - MIN_TIME) / (1 - MIN_TIME) <= (index + 1) / 8 + 1e-6


def test_bidirectional_attention_lets_a_later_token_change_an_earlier_prediction():
    for causal in (True, False):
        torch.manual_seed(0)
        model = Transformer(tiny(causal=causal)).eval()
        ids = torch.tensor([[1, 2, 3, 4, 5]])
        changed = ids.clone()
        changed[0, -1] = 9
        with torch.no_grad():
            moved = (model(ids)[0, 0] - model(changed)[0, 0]).abs().max().item()
        assert (moved > 1e-4) == (not causal)


def test_the_mask_token_takes_the_first_unused_id_and_grows_the_vocabulary_if_needed():
    grown = diffusion_model_config(tiny(vocab_size=32), data_vocab_size=32)
    assert (grown.causal, grown.mask_token_id, grown.vocab_size) == (False, 32, 33)
    room = diffusion_model_config(tiny(vocab_size=40), data_vocab_size=32)
    assert (room.mask_token_id, room.vocab_size) == (32, 40)
    with pytest.raises(UserError, match="real token") as error:
        diffusion_model_config(tiny(mask_token_id=5), data_vocab_size=32)
    assert error.value.field == "model.mask_token_id"


def test_a_bidirectional_sliding_window_is_refused_naming_the_field():
    with pytest.raises(UserError) as error:
        tiny(causal=False, sliding_window=8)
    assert error.value.field == "sliding_window"
