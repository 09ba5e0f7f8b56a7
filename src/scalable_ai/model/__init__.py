"""The model family: config, transformer, MoE, attention variants, loading, tokenizer, generation.

Imports nothing from the rest of ``scalable_ai`` except ``errors`` and ``settings``.
"""

from scalable_ai.model.config import ModelConfig
from scalable_ai.model.transformer import Transformer

__all__ = ["ModelConfig", "Transformer"]
