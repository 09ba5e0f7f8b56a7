"""Model fixtures: tiny random configs, and the real SmolLM2-135M loaded once per session.

The real model is converted from its GGUF once into a session folder laid out like
``SAI_DATA_DIR`` (``models/smollm2-135m``), so tests that go through the registry or the CLI
point ``SAI_DATA_DIR`` there instead of converting again. The ``transformers`` reference
(an independent reader of the same GGUF) is loaded once too; both are slow to load.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from scalable_ai.model.config import ModelConfig
from scalable_ai.model.registry import convert_gguf, load_pretrained, packaged_gguf


def tiny_config(**overrides: object) -> ModelConfig:
    """A two-layer model small enough for gradcheck in double precision."""
    fields = dict(
        vocab_size=64,
        dim=32,
        n_layers=2,
        n_heads=4,
        n_kv_heads=2,
        ffn_hidden=48,
        max_seq_len=128,
        rope_theta=10000.0,
        tie_embeddings=True,
    )
    fields.update(overrides)
    return ModelConfig(**fields)  # type: ignore[arg-type]


@pytest.fixture
def make_tiny_config():  # type: ignore[no-untyped-def]
    """The tiny_config factory, for tests that vary one field."""
    return tiny_config


@pytest.fixture(scope="session")
def smollm2_gguf() -> Path:
    return packaged_gguf("smollm2-135m")


@pytest.fixture(scope="session")
def smollm2_data_dir(tmp_path_factory: pytest.TempPathFactory, smollm2_gguf: Path) -> Path:
    """A data dir holding our converted checkpoint of SmolLM2-135M (converted once)."""
    data_dir = tmp_path_factory.mktemp("smollm2-data")
    convert_gguf(smollm2_gguf, data_dir / "models" / "smollm2-135m", name="smollm2-135m")
    return data_dir


@pytest.fixture(scope="session")
def smollm2(smollm2_data_dir: Path):  # type: ignore[no-untyped-def]
    """(model, tokenizer), float32, from our checkpoint."""
    return load_pretrained(smollm2_data_dir / "models" / "smollm2-135m", dtype=torch.float32)


@pytest.fixture(scope="session")
def reference(smollm2_gguf: Path):  # type: ignore[no-untyped-def]
    """transformers' LlamaForCausalLM and tokenizer, read from the same GGUF by transformers."""
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    folder, name = str(smollm2_gguf.parent), smollm2_gguf.name
    model = AutoModelForCausalLM.from_pretrained(
        folder,
        gguf_file=name,
        quantization_config=GgufConfig(dequantize=True),
        dtype=torch.float32,
    ).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    return model, tokenizer


@pytest.fixture(scope="session")
def smollm2_tokenizer(smollm2_gguf: Path):  # type: ignore[no-untyped-def]
    """Our tokenizer, built straight from the GGUF's metadata (fast: no weights read)."""
    from scalable_ai.model.load.gguf import gguf_metadata, open_gguf
    from scalable_ai.model.tokenizer import tokenizer_from_gguf_metadata

    return tokenizer_from_gguf_metadata(gguf_metadata(open_gguf(smollm2_gguf)))
