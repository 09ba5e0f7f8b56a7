"""The diffusion sampler: exactly ``steps`` denoiser calls, every mask filled, blocks filled
left to right, the schedule's counts, and refusals that name the setting."""

from __future__ import annotations

import pytest
import torch

from scalable_ai.diffusion.sampler import diffusion_generate, unmask_schedule
from scalable_ai.errors import UserError
from scalable_ai.model.config import ModelConfig
from scalable_ai.model.transformer import Transformer

MASK = 31


def denoiser() -> Transformer:
    torch.manual_seed(0)
    config = ModelConfig(
        vocab_size=32,
        dim=32,
        n_layers=2,
        n_heads=4,
        n_kv_heads=2,
        ffn_hidden=64,
        max_seq_len=64,
        causal=False,
        mask_token_id=MASK,
    )
    return Transformer(config).eval()


def recording(model: Transformer) -> list[torch.Tensor]:
    """Every input the denoiser is called with."""
    seen: list[torch.Tensor] = []
    model.register_forward_pre_hook(lambda _module, args: seen.append(args[0].clone()))
    return seen


@pytest.mark.parametrize("steps", [1, 4, 16])
def test_the_sampler_calls_the_denoiser_exactly_steps_times_and_fills_every_mask(steps):
    model = denoiser()
    seen = recording(model)
    sample = diffusion_generate(model, [1, 2, 3], gen_length=16, steps=steps, num_samples=2)
    assert sample.forward_passes == steps == len(seen)
    assert sample.ids.shape == (2, 19)
    assert not (sample.ids == MASK).any()
    assert sample.ids[:, :3].tolist() == [[1, 2, 3]] * 2
    # Each step commits its share of the 16 masks: the count of masks falls by the schedule.
    masks_left = [int((x == MASK).sum()) // 2 for x in seen]
    expected = [16 - sum(unmask_schedule(16, steps)[:i]) for i in range(steps)]
    assert masks_left == expected


def test_blocks_are_unmasked_left_to_right():
    model = denoiser()
    seen = recording(model)
    diffusion_generate(model, [1], gen_length=8, steps=4, block_length=4)
    # The first two calls fill block one; block two stays all masks until then.
    for x in seen[:2]:
        assert (x[0, 5:] == MASK).all()
    assert not (seen[2][0, 1:5] == MASK).any()


def test_greedy_sampling_is_deterministic_and_seeded_sampling_repeats():
    model = denoiser()
    first = diffusion_generate(model, [1, 2], 8, 8).ids
    assert torch.equal(first, diffusion_generate(model, [1, 2], 8, 8).ids)
    draws = [
        diffusion_generate(
            model, [1, 2], 8, 4, temperature=1.0, generator=torch.Generator().manual_seed(3)
        ).ids
        for _ in range(2)
    ]
    assert torch.equal(*draws)


def test_the_schedule_spreads_masks_evenly_and_sums_to_them():
    assert unmask_schedule(10, 4) == [3, 3, 2, 2]
    assert unmask_schedule(8, 8) == [1] * 8


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"gen_length": 8, "steps": 3, "block_length": 4}, "steps"),
        ({"gen_length": 8, "steps": 16}, "steps"),
        ({"gen_length": 10, "steps": 2, "block_length": 4}, "block_length"),
        ({"gen_length": 100, "steps": 4}, "gen_length"),
        ({"gen_length": 8, "steps": 4, "remasking": "lowest"}, "remasking"),
    ],
)
def test_impossible_settings_are_refused_naming_the_setting(kwargs, field):
    with pytest.raises(UserError) as error:
        diffusion_generate(denoiser(), [1], **kwargs)
    assert error.value.field == field


def test_an_autoregressive_model_is_refused():
    causal = Transformer(ModelConfig(vocab_size=32, dim=32, n_layers=1, n_heads=4, n_kv_heads=2))
    with pytest.raises(UserError, match="not a masked diffusion model"):
        diffusion_generate(causal, [1], 4, 4)
