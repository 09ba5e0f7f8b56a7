"""Pruning (lecture 17): masks, Minitron-style width/depth pruning, distillation back.

Tiny random models built here; each check is the clause of the technique it states.
"""

from __future__ import annotations

import copy

import pytest
import torch

from scalable_ai.errors import UserError
from scalable_ai.infer.prune import (
    PruneSpec,
    apply_masks,
    block_importance,
    distill,
    kl_to_teacher,
    magnitude_mask,
    projections,
    prune,
    prune_depth,
    prune_width,
    semi_structured_mask,
    sparsity_of,
)
from scalable_ai.infer.sampling import SamplingParams
from scalable_ai.model.load.safetensors import load_checkpoint, save_checkpoint
from tests.infer.conftest import ByteTokenizer, make_engine, tiny_model


def calibration(rows: int = 4, length: int = 32, seed: int = 1) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return list(torch.randint(0, 256, (rows, length), generator=generator))


def test_a_2_4_mask_keeps_exactly_the_two_largest_of_every_group_of_four():
    weight = torch.randn(16, 64)
    mask = semi_structured_mask(weight)
    groups = mask.view(16, 16, 4)
    assert (groups.sum(-1) == 2).all()
    magnitudes = weight.abs().view(16, 16, 4)
    kept_min = magnitudes.masked_fill(~groups, float("inf")).amin(-1)
    dropped_max = magnitudes.masked_fill(groups, -1.0).amax(-1)
    assert (kept_min >= dropped_max).all()


def test_2_4_over_a_model_zeroes_half_of_every_projection():
    model = tiny_model()
    apply_masks(model, PruneSpec(mode="2:4"))
    for _, linear in projections(model):
        groups = (linear.weight != 0).view(linear.out_features, -1, 4)
        assert (groups.sum(-1) == 2).all()
    assert sparsity_of(model) == 0.5


@pytest.mark.parametrize("sparsity", [0.0, 0.3, 0.5, 0.9])
def test_magnitude_pruning_zeroes_exactly_the_smallest_fraction(sparsity):
    weight = torch.randn(48, 40)
    mask = magnitude_mask(weight, sparsity)
    assert int((~mask).sum()) == round(sparsity * weight.numel())
    if sparsity > 0:
        assert weight.abs()[~mask].max() <= weight.abs()[mask].min()


def test_magnitude_sparsity_of_the_whole_model_is_the_setting():
    model = tiny_model()
    apply_masks(model, PruneSpec(mode="magnitude", sparsity=0.25))
    for _, linear in projections(model):
        assert int((linear.weight == 0).sum()) == round(0.25 * linear.weight.numel())


def test_width_pruning_that_keeps_every_channel_and_head_is_the_same_model():
    model = tiny_model()
    rows = calibration()
    same = prune_width(model, rows, ffn_hidden=128, heads_per_group=2)
    batch = torch.stack(rows)
    torch.testing.assert_close(same(batch), model(batch), rtol=1e-5, atol=1e-5)


def test_width_pruning_keeps_the_most_important_channels_and_runs_smaller():
    model = tiny_model()
    rows = calibration()
    small = prune_width(model, rows, ffn_hidden=64, heads_per_group=1)
    config = small.config
    assert (config.ffn_hidden, config.n_heads, config.n_kv_heads) == (64, 2, 2)
    assert config.head_size == model.config.head_size
    assert small.layers[0].mlp.down_proj.weight.shape == (64, 64)
    assert small.layers[0].attn.q_proj.weight.shape == (2 * 16, 64)
    # Zeroing the dropped channels in the original gives exactly the pruned model.
    from scalable_ai.infer.prune import width_importance

    channels, _ = width_importance(model, rows)
    reference = copy.deepcopy(model)
    with torch.no_grad():
        for i, layer in enumerate(reference.layers):
            dropped = channels[i].topk(64, largest=False).indices
            layer.mlp.down_proj.weight[:, dropped] = 0
    batch = torch.stack(rows)
    pruned_ffn_only = prune_width(model, rows, ffn_hidden=64)
    torch.testing.assert_close(pruned_ffn_only(batch), reference(batch), rtol=1e-4, atol=1e-4)
    assert small(batch).shape == model(batch).shape


def test_depth_pruning_removes_the_named_blocks_and_the_checkpoint_serves(tmp_path):
    model = tiny_model(n_layers=4)
    small = prune_depth(model, [1, 2])
    assert small.config.n_layers == 2
    torch.testing.assert_close(
        small.layers[1].attn.q_proj.weight, model.layers[3].attn.q_proj.weight
    )
    save_checkpoint(small, tmp_path / "depth")
    loaded = load_checkpoint(tmp_path / "depth")
    assert loaded.config.n_layers == 2
    prompt = "The pruned model"
    ids = ByteTokenizer().encode(prompt)
    expected: list[int] = []
    for _ in range(8):
        expected.append(int(small(torch.tensor([ids + expected]))[0, -1].argmax()))
    engine = make_engine(loaded)
    greedy = SamplingParams(temperature=0.0, max_tokens=8, ignore_eos=True)
    assert engine.generate([prompt], greedy)[0][0] == expected


def test_block_importance_ranks_a_block_that_does_nothing_last():
    model = tiny_model(n_layers=3)
    with torch.no_grad():
        model.layers[1].attn.o_proj.weight.zero_()
        model.layers[1].mlp.down_proj.weight.zero_()
    scores = block_importance(model, calibration())
    assert scores[1] == pytest.approx(0.0, abs=1e-6)
    assert min(scores[0], scores[2]) > 1e-3
    pruned, masks = prune(model, PruneSpec(mode="depth", n_layers=2), calibration())
    assert pruned.config.n_layers == 2 and not masks


def test_distillation_lowers_the_kl_to_the_original():
    teacher = tiny_model()
    rows = calibration(rows=2, length=24)
    student = prune_width(teacher, rows, ffn_hidden=32, heads_per_group=1)
    before = kl_to_teacher(student, teacher, rows)
    distill(student, teacher, rows, steps=30, lr=3e-3)
    after = kl_to_teacher(student, teacher, rows)
    assert after < 0.7 * before


def test_distillation_keeps_the_masks():
    teacher = tiny_model()
    student = copy.deepcopy(teacher)
    masks = apply_masks(student, PruneSpec(mode="2:4"))
    distill(student, teacher, calibration(rows=2, length=16), steps=3, lr=1e-2, masks=masks)
    assert sparsity_of(student) == 0.5


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        (PruneSpec(mode="magnitude", sparsity=1.5), "sparsity"),
        (PruneSpec(mode="lottery"), "mode"),
        (PruneSpec(mode="width"), "ffn_hidden"),
        (PruneSpec(mode="width", ffn_hidden=999), "ffn_hidden"),
        (PruneSpec(mode="width", heads_per_group=3), "heads_per_group"),
        (PruneSpec(mode="depth", drop_layers=[7]), "drop_layers"),
        (PruneSpec(mode="depth", n_layers=2), "n_layers"),
    ],
)
def test_bad_settings_are_a_user_error_naming_the_field(spec, field):
    with pytest.raises(UserError) as error:
        spec.validate(tiny_model().config)
    assert error.value.field == field


def test_the_cli_refuses_a_bad_setting_in_one_line(tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scalable_ai.cli",
            "prune",
            "x",
            str(tmp_path / "o"),
            "--sparsity",
            "1.5",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert "sparsity" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()
