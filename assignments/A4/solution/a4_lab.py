"""Given code (no TODO here): the lab stack pieces A4 builds on, at CPU size.

``tiny_engine`` is the course's inference engine (``scalable_ai.infer``) on a tiny random
Transformer with a byte tokenizer, so every experiment runs in seconds on a laptop; the
handout says how the same code runs on SmolLM2 on a GPU node (``load_engine``).
"""

from __future__ import annotations

import torch

from scalable_ai.infer.engine import EngineConfig, LLMEngine
from scalable_ai.model import ModelConfig, Transformer

EOS = 256


class ByteTokenizer:
    """UTF-8 bytes as token ids 0..255, plus ``<eos>`` = 256."""

    eos_token_id = EOS

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


def tiny_model(seed: int = 0, n_layers: int = 2) -> Transformer:
    """A random Transformer of the course's own architecture (RMSNorm, RoPE, GQA, SwiGLU)."""
    torch.manual_seed(seed)
    config = ModelConfig(
        vocab_size=260, dim=64, n_layers=n_layers, n_heads=4, n_kv_heads=2, ffn_hidden=128,
        max_seq_len=512, init_std=0.2, name="tiny",
    )  # fmt: skip
    model = Transformer(config).eval()
    with torch.no_grad():
        model.norm.weight.mul_(4.0)
    return model


def tiny_engine(max_num_seqs: int = 8, num_blocks: int = 256, block_size: int = 4) -> LLMEngine:
    """The lab stack's engine (paged KV cache, continuous batching) on the tiny model."""
    config = EngineConfig(
        max_model_len=num_blocks * block_size, num_blocks=num_blocks, block_size=block_size,
        max_num_seqs=max_num_seqs, max_num_batched_tokens=64, forward_path="packed-torch",
    )  # fmt: skip
    return LLMEngine(tiny_model(), ByteTokenizer(), config, "tiny", eos_token_ids=[EOS])
