"""Post-training fixtures: SmolLM2's tokenizer (from its GGUF's metadata, no weights read),
our own trained tokenizer, and a tiny random model over that tokenizer's vocabulary."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from scalable_ai.model.config import ModelConfig
from scalable_ai.model.tokenizer import Tokenizer
from scalable_ai.model.transformer import Transformer

WORDS = (
    "the model learns to add numbers and answer questions about the course "
    "what is two plus three five seven nine sum of and total question answer "
)


@pytest.fixture(scope="session")
def smollm2_tokenizer() -> Tokenizer:
    from scalable_ai.model.load.gguf import gguf_metadata, open_gguf
    from scalable_ai.model.registry import packaged_gguf
    from scalable_ai.model.tokenizer import tokenizer_from_gguf_metadata

    return tokenizer_from_gguf_metadata(gguf_metadata(open_gguf(packaged_gguf("smollm2-135m"))))


@pytest.fixture(scope="session")
def our_tokenizer_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Our byte-level BPE with chat tokens and our chat template (`sai tokenizer train`)."""
    from scalable_ai.data.bpe import train_tokenizer

    texts = [WORDS * 3, "0123456789 + = ? 12 + 34 = 46", *(WORDS.split())]
    return train_tokenizer(texts, vocab_size=300, out_dir=tmp_path_factory.mktemp("tok"))


@pytest.fixture(scope="session")
def our_tokenizer(our_tokenizer_dir: Path) -> Tokenizer:
    return Tokenizer.load(our_tokenizer_dir)


def tiny_model_config(vocab_size: int = 300, **overrides: object) -> ModelConfig:
    fields: dict[str, object] = dict(
        vocab_size=vocab_size,
        dim=32,
        n_layers=2,
        n_heads=4,
        n_kv_heads=2,
        ffn_hidden=64,
        max_seq_len=256,
        init_std=0.1,
        tie_embeddings=True,
        name="tiny-post",
    )
    fields.update(overrides)
    return ModelConfig(**fields)  # type: ignore[arg-type]


def tiny_model(seed: int = 0, **overrides: object) -> Transformer:
    torch.manual_seed(seed)
    return Transformer(tiny_model_config(**overrides)).eval()


def arithmetic_chats(count: int, seed: int = 0) -> list[dict[str, object]]:
    """``{"messages": [user "a+b=", assistant "c"]}`` records for one-digit sums."""
    import random

    rng = random.Random(seed)
    records: list[dict[str, object]] = []
    for _ in range(count):
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        messages = [
            {"role": "user", "content": f"{a}+{b}="},
            {"role": "assistant", "content": str(a + b)},
        ]
        records.append({"messages": messages})
    return records


@pytest.fixture(scope="session")
def tiny_base(tmp_path_factory: pytest.TempPathFactory, our_tokenizer_dir: Path) -> Path:
    """A checkpoint folder (random tiny model + our tokenizer) that every `sai` command loads."""
    from scalable_ai.model.load.safetensors import save_checkpoint

    folder = tmp_path_factory.mktemp("tiny-base")
    tokenizer = Tokenizer.load(our_tokenizer_dir)
    tokenizer.save(folder)
    save_checkpoint(tiny_model(vocab_size=tokenizer.vocab_size), folder)
    return folder


def arithmetic_pairs(count: int, seed: int = 0) -> list[dict[str, object]]:
    """``{"prompt": "a+b=", "chosen": "c", "rejected": "c±k"}``: the right sum is preferred."""
    import random

    rng = random.Random(seed)
    records: list[dict[str, object]] = []
    for _ in range(count):
        a, b = rng.randint(0, 9), rng.randint(0, 9)
        wrong = a + b + rng.choice([-3, -2, -1, 1, 2, 3])
        records.append({"prompt": f"{a}+{b}=", "chosen": str(a + b), "rejected": str(abs(wrong))})
    return records
