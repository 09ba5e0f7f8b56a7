"""ModelConfig: one dataclass for every architecture, saved whole as TOML or JSON."""

from __future__ import annotations

import pytest

from scalable_ai.errors import UserError
from scalable_ai.model.config import SMOLLM2_135M, ModelConfig, preset


def test_config_round_trips_through_toml_and_json(tmp_path):
    config = ModelConfig(
        n_experts=8,
        experts_per_token=2,
        sliding_window=256,
        rope_scaling="llama3",
        rope_scaling_factor=8.0,
        norm_eps=1e-6,
        name="moe-swa",
    )
    assert ModelConfig.from_toml(config.to_toml()) == config
    assert ModelConfig.from_json(config.to_json()) == config
    for suffix in (".toml", ".json"):
        config.save(tmp_path / f"model{suffix}")
        assert ModelConfig.load(tmp_path / f"model{suffix}") == config


def test_toml_may_nest_fields_under_a_model_table():
    assert ModelConfig.from_toml("[model]\ndim = 64\nn_heads = 4\nn_kv_heads = 2\n").dim == 64


def test_grouped_query_attention_needs_heads_divisible_by_kv_heads():
    with pytest.raises(UserError) as error:
        ModelConfig(n_heads=9, n_kv_heads=2)
    assert error.value.field == "n_kv_heads"


def test_unknown_fields_are_named():
    with pytest.raises(UserError) as error:
        ModelConfig.from_dict({"dimension": 5})
    assert error.value.field == "dimension"


def test_smollm2_head_size_is_64():
    assert SMOLLM2_135M.head_size == 64


def test_presets_differ_from_tiny_only_in_the_switch_they_name():
    tiny, moe, window = preset("tiny"), preset("tiny-moe"), preset("tiny-swa")
    assert (moe.n_experts, window.sliding_window, tiny.n_experts, tiny.sliding_window) == (
        8,
        128,
        0,
        0,
    )
    assert preset("tiny", dim=128, n_heads=2, n_kv_heads=1).dim == 128
    with pytest.raises(UserError):
        preset("huge")
