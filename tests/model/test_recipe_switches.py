"""The pre-training recipe switches: off is exactly the Llama block, on does what it names.

Independent references where they exist: transformers' ``LlamaForCausalLM`` for all switches
off and ``Qwen3ForCausalLM`` (Llama plus per-head QK-norm) for ``qk_norm``.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from scalable_ai.errors import UserError
from scalable_ai.model.config import ModelConfig
from scalable_ai.model.load.safetensors import from_hf_state_dict, load_checkpoint, save_checkpoint
from scalable_ai.model.transformer import ReluSquared, Transformer
from tests.model.conftest import tiny_config

SIZES = dict(vocab_size=64, dim=32, n_layers=2, n_heads=4, n_kv_heads=2, ffn_hidden=48)


def _ours_from_hf(hf_model, config: ModelConfig) -> Transformer:
    model = Transformer(config).double().eval()
    state = from_hf_state_dict(hf_model.state_dict())
    state.setdefault("lm_head.weight", state["embed.weight"])
    model.load_state_dict(state, strict=True)
    return model


def _hf_sizes() -> dict:
    return dict(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        head_dim=8,
        rms_norm_eps=1e-5,
        max_position_embeddings=128,
        tie_word_embeddings=True,
    )


def test_all_switches_off_is_transformers_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    reference = LlamaForCausalLM(LlamaConfig(**_hf_sizes(), rope_theta=10000.0)).double().eval()
    config = tiny_config()
    assert config.recipe_switches() == []
    ours = _ours_from_hf(reference, config)
    ids = torch.randint(0, 64, (2, 11))
    with torch.no_grad():
        torch.testing.assert_close(ours(ids), reference(ids).logits)


def test_qk_norm_is_qwen3s_per_head_rms_norm_before_rope():
    """Qwen3 is the Llama block plus RMSNorm over each head's q and k (a gain per head
    dimension, shared by the heads), applied before RoPE: our switch must be exactly that."""
    from transformers import Qwen3Config, Qwen3ForCausalLM

    torch.manual_seed(0)
    hf_config = Qwen3Config(**_hf_sizes(), rope_parameters={"rope_type": "default",
                                                            "rope_theta": 10000.0})  # fmt: skip
    reference = Qwen3ForCausalLM(hf_config).double().eval()
    with torch.no_grad():  # gains away from 1, so a missing norm or a swapped one shows
        for name, parameter in reference.named_parameters():
            if name.endswith(("q_norm.weight", "k_norm.weight")):
                parameter.uniform_(0.5, 2.0)
    ours = _ours_from_hf(reference, tiny_config(qk_norm=True))
    ids = torch.randint(0, 64, (2, 11))
    with torch.no_grad():
        torch.testing.assert_close(ours(ids), reference(ids).logits)
        plain = Transformer(tiny_config()).double().eval()
        plain.load_state_dict(ours.state_dict(), strict=False)
        assert not torch.allclose(plain(ids), ours(ids))


def test_relu_squared_is_an_ungated_feed_forward():
    torch.manual_seed(0)
    model = Transformer(tiny_config(mlp_activation="relu2")).double()
    mlp = model.layers[0].mlp
    assert isinstance(mlp, ReluSquared) and not hasattr(mlp, "gate_proj")
    x = torch.randn(3, 5, 32, dtype=torch.float64)
    expected = F.relu(x @ mlp.up_proj.weight.T).pow(2) @ mlp.down_proj.weight.T
    torch.testing.assert_close(mlp(x), expected)


def test_logit_softcap_squashes_logits_into_the_cap():
    """Gemma 2: logits = cap * tanh(logits / cap), never beyond the cap."""
    torch.manual_seed(0)
    plain = Transformer(tiny_config()).double().eval()
    capped = Transformer(tiny_config(logit_softcap=2.0)).double().eval()
    with torch.no_grad():
        plain.norm.weight.mul_(300.0)  # raw logits far larger than the cap
        capped.load_state_dict(plain.state_dict())
        ids = torch.randint(0, 64, (2, 7))
        raw, squashed = plain(ids), capped(ids)
    assert raw.abs().max() > 10.0
    assert squashed.abs().max() <= 2.0
    torch.testing.assert_close(squashed, 2.0 * torch.tanh(raw / 2.0))


def test_untied_head_has_its_own_matrix_and_gradient():
    torch.manual_seed(0)
    model = Transformer(tiny_config(tie_embeddings=False))
    ids = torch.randint(0, 64, (2, 9))
    model.loss(ids, torch.roll(ids, -1, 1)).backward()
    head, embedding = model.lm_head.weight, model.embed.weight
    assert head is not embedding and not torch.equal(head, embedding)
    assert head.grad is not None and embedding.grad is not None
    assert not torch.allclose(head.grad, embedding.grad)


@pytest.mark.parametrize(
    "switches",
    [
        dict(qk_norm=True),
        dict(mlp_activation="relu2"),
        dict(logit_softcap=15.0),
        dict(tie_embeddings=False),
        dict(qk_norm=True, mlp_activation="relu2", logit_softcap=15.0, tie_embeddings=False),
    ],
)
def test_switched_models_round_trip_through_a_checkpoint(tmp_path, switches):
    torch.manual_seed(0)
    model = Transformer(tiny_config(**switches)).eval()
    save_checkpoint(model, tmp_path)
    loaded = load_checkpoint(tmp_path)
    assert loaded.config == model.config
    ids = torch.randint(0, 64, (1, 9))
    with torch.no_grad():
        assert torch.equal(loaded(ids), model(ids))


def test_switches_off_add_no_parameters():
    """Off means absent: the state dict keeps the Llama layout the loaders and engine read."""
    names = set(Transformer(tiny_config()).state_dict())
    assert not any("q_norm" in n or "k_norm" in n for n in names)
    assert {n for n in names if n.startswith("layers.0.mlp.")} == {
        "layers.0.mlp.gate_proj.weight",
        "layers.0.mlp.up_proj.weight",
        "layers.0.mlp.down_proj.weight",
    }
    on = set(Transformer(tiny_config(qk_norm=True, mlp_activation="relu2")).state_dict())
    assert {"layers.0.attn.q_norm.weight", "layers.0.attn.k_norm.weight"} <= on
    assert "layers.0.mlp.gate_proj.weight" not in on


@pytest.mark.parametrize(
    ("field", "value"),
    [("mlp_activation", "gelu"), ("logit_softcap", -1.0)],
)
def test_bad_switch_values_name_the_field(field, value):
    with pytest.raises(UserError) as error:
        ModelConfig(**SIZES, **{field: value})
    assert error.value.field == field


def test_relu_squared_experts_are_refused():
    with pytest.raises(UserError) as error:
        ModelConfig(**SIZES, n_experts=4, mlp_activation="relu2")
    assert error.value.field == "mlp_activation"
