"""Parameter and FLOP counters (Kaplan et al. 2020; PaLM appendix B)."""

from __future__ import annotations

from scalable_ai.model.config import SMOLLM2_135M
from scalable_ai.model.flops import (
    count_parameters,
    forward_flops_per_token,
    training_flops_per_token,
)
from scalable_ai.model.transformer import Transformer


def test_parameter_count_matches_the_built_model(make_tiny_config):
    for config in (
        make_tiny_config(),
        make_tiny_config(tie_embeddings=False),
        make_tiny_config(n_experts=4, experts_per_token=2),
        make_tiny_config(qk_norm=True, mlp_activation="relu2", logit_softcap=30.0),
    ):
        built = sum(p.numel() for p in Transformer(config).parameters())
        assert count_parameters(config).total == built


def test_smollm2_has_134_5_million_parameters():
    assert count_parameters(SMOLLM2_135M).total == 134_515_008


def test_forward_is_two_flops_per_active_parameter_plus_attention():
    config = SMOLLM2_135M
    attention = 2 * 2 * config.n_layers * 1024 * config.n_heads * config.head_size
    expected = 2 * count_parameters(config).active_per_token + attention
    assert forward_flops_per_token(config, 1024) == expected


def test_training_costs_three_forwards():
    assert training_flops_per_token(SMOLLM2_135M, 2048) == 3 * forward_flops_per_token(
        SMOLLM2_135M, 2048
    )


def test_only_routed_experts_count_as_active(make_tiny_config):
    dense = count_parameters(make_tiny_config())
    moe = count_parameters(make_tiny_config(n_experts=8, experts_per_token=2))
    assert moe.total > moe.active_per_token > dense.active_per_token


def test_sliding_window_caps_attention_flops(make_tiny_config):
    windowed = make_tiny_config(sliding_window=16)
    assert forward_flops_per_token(windowed, 4096) == forward_flops_per_token(windowed, 16)


def test_sai_model_info_counts_a_preset_without_weights():
    from typer.testing import CliRunner

    from scalable_ai.model.cli import model_app

    result = CliRunner().invoke(model_app, ["info", "tiny-moe"])
    assert result.exit_code == 0, result.output
    assert "params.active_per_token: 7,118,848" in result.stdout
