"""Our checkpoint format, and Hugging Face Llama safetensors.

A checkpoint is a folder a person can open: ``config.json`` (the whole ``ModelConfig``),
``model.safetensors`` (weights in our parameter names; a tied LM head is stored once, as
``embed.weight``) and, when the model has one, the tokenizer files written by
``tokenizer.py``. safetensors rather than pickle: loading never runs code, and the file is
memory-mapped.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from scalable_ai.errors import UserError
from scalable_ai.model.config import ModelConfig
from scalable_ai.model.transformer import Transformer

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"

_HF_BLOCK = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn.q_proj.weight",
    "self_attn.k_proj.weight": "attn.k_proj.weight",
    "self_attn.v_proj.weight": "attn.v_proj.weight",
    "self_attn.o_proj.weight": "attn.o_proj.weight",
    "self_attn.q_norm.weight": "attn.q_norm.weight",  # Qwen3's QK-norm (config.qk_norm)
    "self_attn.k_norm.weight": "attn.k_norm.weight",
    "post_attention_layernorm.weight": "mlp_norm.weight",
    "mlp.gate_proj.weight": "mlp.gate_proj.weight",
    "mlp.up_proj.weight": "mlp.up_proj.weight",
    "mlp.down_proj.weight": "mlp.down_proj.weight",
}
_HF_GLOBAL = {
    "model.embed_tokens.weight": "embed.weight",
    "model.norm.weight": "norm.weight",
    "lm_head.weight": "lm_head.weight",
}
_HF_LAYER = re.compile(r"^model\.layers\.(\d+)\.(.+)$")
_TO_HF_GLOBAL = {ours: hf for hf, ours in _HF_GLOBAL.items()}
_TO_HF_BLOCK = {ours: hf for hf, ours in _HF_BLOCK.items()}


def is_checkpoint(path: Path) -> bool:
    path = Path(path)
    return (path / CONFIG_FILE).is_file() and (path / WEIGHTS_FILE).is_file()


def save_checkpoint(model: Transformer, folder: Path) -> Path:
    """Write config.json and model.safetensors into folder (created if needed)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().contiguous() for name, tensor in model.state_dict().items()}
    if model.config.tie_embeddings:
        state.pop("lm_head.weight", None)
    save_file(state, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    model.config.save(folder / CONFIG_FILE)
    return folder


def build_model(
    config: ModelConfig,
    state: dict[str, torch.Tensor],
    dtype: torch.dtype | None = None,
    device: str | torch.device | None = None,
) -> Transformer:
    """A model with exactly these weights (every parameter must be present)."""
    # Build on the meta device and adopt the given tensors (assign=True): no allocation,
    # no initialisation and no copy of 135M parameters just to overwrite them.
    with torch.device("meta"):
        model = Transformer(config)
    target = torch.device(device or "cpu")
    state = {name: tensor.to(target) for name, tensor in state.items()}
    if config.tie_embeddings:
        state.setdefault("lm_head.weight", state["embed.weight"])
    missing, unexpected = model.load_state_dict(state, strict=False, assign=True)
    if missing or unexpected:
        raise UserError(
            f"weights do not fit the config: missing {missing[:3]}, unexpected {unexpected[:3]}",
            field="model",
        )
    if config.tie_embeddings:
        model.lm_head.weight = model.embed.weight  # assign replaced the shared Parameter
    # Buffers (RoPE frequencies) are not in the state dict: compute them on the device.
    model.rotary.inv_freq = type(model.rotary)(config).inv_freq.to(target)
    if dtype is not None:
        model = model.to(dtype)
    return model.eval()


def load_checkpoint(
    folder: Path, dtype: torch.dtype | None = None, device: str | torch.device | None = None
) -> Transformer:
    """Load a checkpoint folder written by :func:`save_checkpoint`."""
    folder = Path(folder)
    if not is_checkpoint(folder):
        raise UserError(
            f"{folder} is not a checkpoint (needs {CONFIG_FILE} and {WEIGHTS_FILE})", field="model"
        )
    config = ModelConfig.load(folder / CONFIG_FILE)
    state = load_file(str(folder / WEIGHTS_FILE), device=str(device or "cpu"))
    return build_model(config, state, dtype=dtype, device=device)


def from_hf_state_dict(hf_state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename a Hugging Face ``LlamaForCausalLM`` state dict into our parameter names."""
    ours: dict[str, torch.Tensor] = {}
    for name, tensor in hf_state.items():
        if name in _HF_GLOBAL:
            ours[_HF_GLOBAL[name]] = tensor
            continue
        match = _HF_LAYER.match(name)
        if match and match.group(2) in _HF_BLOCK:
            ours[f"layers.{match.group(1)}.{_HF_BLOCK[match.group(2)]}"] = tensor
    return ours


def to_hf_name(ours: str) -> str:
    """The ``LlamaForCausalLM`` name of one of our parameters (``layers.3.attn.q_proj.weight``
    -> ``model.layers.3.self_attn.q_proj.weight``); the inverse of ``from_hf_state_dict``."""
    if ours in _TO_HF_GLOBAL:
        return _TO_HF_GLOBAL[ours]
    _, layer, rest = ours.split(".", 2)
    return f"model.layers.{layer}.{_TO_HF_BLOCK[rest]}"


def hf_llama_config(config: ModelConfig, **extra: Any) -> Any:
    """A ``transformers`` ``LlamaConfig`` of the same architecture as ``config`` (the recipe
    switches off: our block is then exactly Llama's); ``extra`` sets further fields."""
    from transformers import LlamaConfig

    fields: dict[str, Any] = dict(
        vocab_size=config.vocab_size,
        hidden_size=config.dim,
        intermediate_size=config.ffn_hidden,
        num_hidden_layers=config.n_layers,
        num_attention_heads=config.n_heads,
        num_key_value_heads=config.n_kv_heads,
        head_dim=config.head_size,
        max_position_embeddings=config.max_seq_len,
        rms_norm_eps=config.norm_eps,
        rope_theta=config.rope_theta,
        tie_word_embeddings=config.tie_embeddings,
    )
    return LlamaConfig(**fields, **extra)
