"""The peers' side of the benchmarks: our weights in a ``transformers`` model (shared by
``rl.py`` and ``lora_serving.py``; a helper module, not a benchmark: ``make bench`` skips it)."""

from __future__ import annotations

from typing import Any

import torch

from scalable_ai.model.load.safetensors import _HF_BLOCK, _HF_GLOBAL

_GLOBAL = {ours: hf for hf, ours in _HF_GLOBAL.items()}
_BLOCK = {ours: hf for hf, ours in _HF_BLOCK.items()}


def hf_name(ours: str) -> str:
    """The ``LlamaForCausalLM`` name of one of our parameters (``blocks.3.attn.q_proj.weight``
    -> ``model.layers.3.self_attn.q_proj.weight``)."""
    if ours in _GLOBAL:
        return _GLOBAL[ours]
    _, layer, rest = ours.split(".", 2)
    return f"model.layers.{layer}.{_BLOCK[rest]}"


def hf_llama(model: torch.nn.Module) -> Any:
    """A transformers ``LlamaForCausalLM`` holding our model's weights (the recipe
    switches are off, so our block is exactly Llama's: tests/model/test_recipe_switches)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    c = model.config
    hf = LlamaForCausalLM(
        LlamaConfig(
            vocab_size=c.vocab_size,
            hidden_size=c.dim,
            intermediate_size=c.ffn_hidden,
            num_hidden_layers=c.n_layers,
            num_attention_heads=c.n_heads,
            num_key_value_heads=c.n_kv_heads,
            head_dim=c.head_size,
            rms_norm_eps=c.norm_eps,
            max_position_embeddings=c.max_seq_len,
            rope_theta=c.rope_theta,
            tie_word_embeddings=c.tie_embeddings,
        )
    )
    hf.load_state_dict({hf_name(n): t for n, t in model.state_dict().items()}, strict=False)
    return hf.eval()
