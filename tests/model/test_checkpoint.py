"""Our checkpoint format (safetensors + config JSON + tokenizer) and the model registry."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors import safe_open

from scalable_ai.errors import NotFound, UserError
from scalable_ai.model.load.safetensors import load_checkpoint, save_checkpoint
from scalable_ai.model.registry import list_models, load_pretrained, resolve
from scalable_ai.model.transformer import Transformer


def test_checkpoint_round_trip_gives_identical_logits(tmp_path, make_tiny_config):
    torch.manual_seed(0)
    model = Transformer(make_tiny_config(n_experts=4, sliding_window=3)).eval()
    save_checkpoint(model, tmp_path / "ckpt")
    loaded = load_checkpoint(tmp_path / "ckpt")
    ids = torch.randint(0, 64, (1, 9))
    torch.testing.assert_close(loaded(ids), model(ids))
    assert loaded.config == model.config
    assert loaded.lm_head.weight is loaded.embed.weight


def test_tied_head_is_stored_once(tmp_path, make_tiny_config):
    save_checkpoint(Transformer(make_tiny_config()), tmp_path)
    with safe_open(tmp_path / "model.safetensors", "pt") as weights:
        stored = list(weights.keys())
    assert "lm_head.weight" not in stored and "embed.weight" in stored
    assert json.loads((tmp_path / "config.json").read_text())["tie_embeddings"] is True


def test_load_in_bfloat16(tmp_path, make_tiny_config):
    save_checkpoint(Transformer(make_tiny_config()), tmp_path)
    assert load_checkpoint(tmp_path, dtype=torch.bfloat16).embed.weight.dtype == torch.bfloat16


def test_unknown_model_names_are_not_found(tmp_path):
    with pytest.raises(NotFound) as error:
        resolve("gpt-17")
    assert error.value.field == "model"
    with pytest.raises(UserError):
        load_checkpoint(tmp_path)


def test_list_shows_unpulled_models():
    assert {"name": "smollm2-135m"}.items() <= list_models()[0].items()
    assert list_models()[0]["checkpoint"] == "(not pulled)"


@pytest.mark.slow
def test_registry_name_loads_the_converted_checkpoint(smollm2_data_dir, monkeypatch):
    monkeypatch.setenv("SAI_DATA_DIR", str(smollm2_data_dir))
    model, tokenizer = load_pretrained("smollm2-135m", dtype="bfloat16")
    assert model.config.name == "smollm2-135m" and model.embed.weight.dtype == torch.bfloat16
    assert tokenizer.vocab_size == 49152
