"""The peers' side of the benchmarks: our weights in a ``transformers`` model (shared by
``rl.py`` and ``lora_serving.py``; a helper module, not a benchmark: ``make bench`` skips it)."""

from __future__ import annotations

from typing import Any

import torch

from scalable_ai.model.load.safetensors import hf_llama_config, to_hf_name


def hf_llama(model: torch.nn.Module) -> Any:
    """A transformers ``LlamaForCausalLM`` holding our model's weights (the recipe
    switches are off, so our block is exactly Llama's: tests/model/test_recipe_switches)."""
    from transformers import LlamaForCausalLM

    hf = LlamaForCausalLM(hf_llama_config(model.config))
    hf.load_state_dict({to_hf_name(n): t for n, t in model.state_dict().items()}, strict=False)
    return hf.eval()
