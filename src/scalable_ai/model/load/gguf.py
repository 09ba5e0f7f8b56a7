"""Read a GGUF file (llama.cpp's format) into our ``ModelConfig`` and state dict.

Every tensor is read with ``gguf.GGUFReader`` and dequantized with the package's own
vectorized ``gguf.quants.dequantize`` (Q4_0, Q4_1, Q8_0, K-quants, ...): we do not write
dequantizers.

The query/key row permutation. llama.cpp rotates RoPE pairs of adjacent dimensions
(2i, 2i+1), Hugging Face Llama rotates dimension i with i + D/2. So llama.cpp's converter
permutes the rows of every ``q_proj``/``k_proj`` weight, within each head, from the second
layout to the first: ``w.reshape(H, 2, D/2, dim).swapaxes(1, 2)``. We undo it with the
inverse reshape (``undo_rope_permutation=True``, the default, giving Hugging Face layout and
``rope_interleaved=False``), or keep the file's rows and rotate interleaved pairs instead
(``undo_rope_permutation=False`` sets ``rope_interleaved=True``). Both are the same
function; ``tests/model/test_gguf.py`` proves it, and that the mixed choice is not.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gguf import GGUFReader
from gguf.quants import dequantize

from scalable_ai.errors import UserError
from scalable_ai.model.config import ModelConfig

_GLOBAL_TENSORS = {
    "token_embd.weight": "embed.weight",
    "output_norm.weight": "norm.weight",
    "output.weight": "lm_head.weight",
}
_BLOCK_TENSORS = {
    "attn_norm.weight": "attn_norm.weight",
    "attn_q.weight": "attn.q_proj.weight",
    "attn_k.weight": "attn.k_proj.weight",
    "attn_v.weight": "attn.v_proj.weight",
    "attn_output.weight": "attn.o_proj.weight",
    "ffn_norm.weight": "mlp_norm.weight",
    "ffn_gate.weight": "mlp.gate_proj.weight",
    "ffn_up.weight": "mlp.up_proj.weight",
    "ffn_down.weight": "mlp.down_proj.weight",
    # Mixture of Experts (Mixtral-style GGUF files): router and stacked expert weights.
    "ffn_gate_inp.weight": "mlp.router.weight",
    "ffn_gate_exps.weight": "mlp.gate_weight",
    "ffn_up_exps.weight": "mlp.up_weight",
    "ffn_down_exps.weight": "mlp.down_weight",
}
_BLOCK_NAME = re.compile(r"^blk\.(\d+)\.(.+)$")


def open_gguf(path: Path) -> GGUFReader:
    """Open a GGUF file (memory-mapped), or raise a UserError naming the path."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no GGUF file at {path}", field="model")
    try:
        return GGUFReader(path)
    except (ValueError, OSError) as error:
        raise UserError(f"{path} is not a readable GGUF file: {error}", field="model") from error


def gguf_metadata(reader: GGUFReader) -> dict[str, Any]:
    """Every key/value field of the file as plain Python values (strings, numbers, lists)."""
    return {name: field.contents() for name, field in reader.fields.items()}


def config_from_gguf(metadata: dict[str, Any], name: str = "") -> ModelConfig:
    """Translate llama.cpp's ``{arch}.*`` hyperparameters into a ModelConfig."""
    arch = metadata.get("general.architecture", "llama")

    def get(key: str, default: Any = None) -> Any:
        return metadata.get(f"{arch}.{key}", default)

    n_heads = int(get("attention.head_count"))
    dim = int(get("embedding_length"))
    vocab_size = get("vocab_size") or len(metadata["tokenizer.ggml.tokens"])
    scaling = get("rope.scaling.type", "none") or "none"
    return ModelConfig(
        name=name,
        vocab_size=int(vocab_size),
        dim=dim,
        n_layers=int(get("block_count")),
        n_heads=n_heads,
        n_kv_heads=int(get("attention.head_count_kv", n_heads)),
        head_dim=int(get("attention.key_length", 0)) if get("attention.key_length") else 0,
        ffn_hidden=int(get("expert_feed_forward_length") or get("feed_forward_length")),
        norm_eps=float(get("attention.layer_norm_rms_epsilon", 1e-5)),
        max_seq_len=int(get("context_length", 2048)),
        rope_theta=float(get("rope.freq_base", 10000.0)),
        rope_scaling=scaling if scaling in ("linear", "none") else "none",
        rope_scaling_factor=float(get("rope.scaling.factor", 1.0) or 1.0),
        sliding_window=int(get("attention.sliding_window", 0) or 0),
        n_experts=int(get("expert_count", 0) or 0),
        experts_per_token=int(get("expert_used_count", 2) or 2),
        tie_embeddings=True,  # corrected below from the tensor list
    )


def unpermute_rope_rows(weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Inverse of llama.cpp's ``permute``: per head, rows (pair, half) -> (half, pair).

    llama.cpp wrote ``w.reshape(H, 2, D/2, in).swapaxes(1, 2)``; reading the file's rows as
    (H, D/2, 2, in) and swapping back restores Hugging Face's order.
    """
    rows, columns = weight.shape
    head_dim = rows // n_heads
    return weight.reshape(n_heads, head_dim // 2, 2, columns).transpose(1, 2).reshape(rows, columns)


def _our_name(gguf_name: str) -> str | None:
    if gguf_name in _GLOBAL_TENSORS:
        return _GLOBAL_TENSORS[gguf_name]
    match = _BLOCK_NAME.match(gguf_name)
    if match and match.group(2) in _BLOCK_TENSORS:
        return f"layers.{match.group(1)}.{_BLOCK_TENSORS[match.group(2)]}"
    return None


def read_gguf(
    path: Path, undo_rope_permutation: bool = True, name: str = ""
) -> tuple[ModelConfig, dict[str, torch.Tensor], dict[str, Any]]:
    """Config, float32 state dict in our names, and the raw metadata of a GGUF file."""
    reader = open_gguf(path)
    metadata = gguf_metadata(reader)
    config = config_from_gguf(metadata, name=name)
    state: dict[str, torch.Tensor] = {}
    for tensor in reader.tensors:
        ours = _our_name(tensor.name)
        if ours is None:
            continue  # e.g. rope_freqs, which we compute from the config
        array = dequantize(tensor.data, tensor.tensor_type)
        # GGUF lists dims innermost first; numpy's shape is the reverse, i.e. (out, in).
        shape = tuple(int(d) for d in reversed(tensor.shape))
        weight = torch.from_numpy(np.array(array, dtype=np.float32).reshape(shape))
        if undo_rope_permutation and ours.endswith("attn.q_proj.weight"):
            weight = unpermute_rope_rows(weight, config.n_heads)
        elif undo_rope_permutation and ours.endswith("attn.k_proj.weight"):
            weight = unpermute_rope_rows(weight, config.n_kv_heads)
        state[ours] = weight.contiguous()
    if "embed.weight" not in state:
        raise UserError(f"{path} has no token_embd.weight: not a decoder model", field="model")
    config.tie_embeddings = "lm_head.weight" not in state
    config.rope_interleaved = not undo_rope_permutation
    config.validate()
    return config, state, metadata


#: Block types kept as codes: bytes per block of 32 weights, and whether it carries a minimum.
_BLOCKS = {"Q8_0": 34, "Q4_0": 18, "Q4_1": 20}


def block_codes(
    data: np.ndarray, type_name: str, rows: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray | float, int]:
    """A Q8_0/Q4_0/Q4_1 matrix's blocks as (codes uint8 (rows, K), scales, offsets f32
    (rows, K / 32), bits) with w = scale * code + offset exactly, read from the raw bytes:
    Q8_0 w = d q (q int8: code q + 128, offset -128 d); Q4_0 w = d (q - 8); Q4_1 w = d q + m
    (ggml's block layouts: an f16 d, for Q4_1 an f16 m, then 32 int8 or 16 bytes holding
    element j in the low nibble of byte j and element j + 16 in the high one)."""
    blocks = np.ascontiguousarray(data).reshape(rows, -1, _BLOCKS[type_name])
    d = blocks[..., 0:2].copy().view(np.float16)[..., 0].astype(np.float32)
    if type_name == "Q8_0":
        codes = (blocks[..., 2:].view(np.int8).astype(np.int16) + 128).astype(np.uint8)
        return codes.reshape(rows, -1), d, -128.0 * d, 8
    nibbles = blocks[..., 4:] if type_name == "Q4_1" else blocks[..., 2:]
    codes = np.concatenate([nibbles & 15, nibbles >> 4], axis=-1).reshape(rows, -1)
    if type_name == "Q4_1":
        return codes, d, blocks[..., 2:4].copy().view(np.float16)[..., 0].astype(np.float32), 4
    return codes, d, -8.0 * d, 4


def read_gguf_blocks(
    path: Path, name: str = ""
) -> tuple[ModelConfig, dict[str, torch.Tensor], dict[str, tuple], dict[str, Any]]:
    """Like :func:`read_gguf`, but Q8_0/Q4_0/Q4_1 matrices come back as ``block_codes``
    tuples (in our names, q/k rows un-permuted as there), never widened to floats; other
    tensors as float32. The token embedding is in both (a lookup table, and the tied head)."""
    reader = open_gguf(path)
    metadata = gguf_metadata(reader)
    config = config_from_gguf(metadata, name=name)
    state: dict[str, torch.Tensor] = {}
    blocks: dict[str, tuple] = {}
    for tensor in reader.tensors:
        ours = _our_name(tensor.name)
        if ours is None:
            continue
        shape = tuple(int(d) for d in reversed(tensor.shape))
        kind = tensor.tensor_type.name
        if kind in _BLOCKS and len(shape) == 2 and ours != "embed.weight":
            codes, scales, offsets, bits = block_codes(tensor.data, kind, shape[0])
            parts = [torch.from_numpy(np.ascontiguousarray(a)) for a in (codes, scales, offsets)]
            heads = {"attn.q_proj.weight": config.n_heads, "attn.k_proj.weight": config.n_kv_heads}
            for suffix, n_heads in heads.items():
                if ours.endswith(suffix):
                    parts = [unpermute_rope_rows(p, n_heads) for p in parts]
            blocks[ours.removesuffix(".weight")] = (*parts, bits)
            continue
        if kind in _BLOCKS and ours == "embed.weight":
            codes, scales, offsets, bits = block_codes(tensor.data, kind, shape[0])
            parts = [torch.from_numpy(np.ascontiguousarray(a)) for a in (codes, scales, offsets)]
            blocks["embed"] = (*parts, bits)
        array = dequantize(tensor.data, tensor.tensor_type)
        state[ours] = torch.from_numpy(np.array(array, dtype=np.float32).reshape(shape))
    config.tie_embeddings = "lm_head.weight" not in state and "lm_head" not in blocks
    config.rope_interleaved = False
    config.validate()
    return config, state, blocks, metadata
