"""Reading the GGUF: which RoPE layout its query/key rows are in, proven on the real file."""

from __future__ import annotations

import pytest
import torch
from gguf import GGUFReader
from gguf.quants import dequantize

from scalable_ai.model.load.gguf import config_from_gguf, gguf_metadata, unpermute_rope_rows
from scalable_ai.model.load.safetensors import build_model

pytestmark = pytest.mark.slow


def llama_cpp_permute(weight: torch.Tensor, n_heads: int) -> torch.Tensor:
    """What llama.cpp's convert_hf_to_gguf.py does to q/k rows (written here independently)."""
    rows, columns = weight.shape
    return (
        weight.reshape(n_heads, 2, rows // n_heads // 2, columns)
        .swapaxes(1, 2)
        .reshape(rows, columns)
    )


def _raw(reader: GGUFReader, name: str) -> torch.Tensor:
    tensor = next(t for t in reader.tensors if t.name == name)
    return torch.from_numpy(dequantize(tensor.data, tensor.tensor_type).copy())


def test_unpermute_inverts_llama_cpp_permute():
    weight = torch.randn(12 * 8, 5)
    assert torch.equal(unpermute_rope_rows(llama_cpp_permute(weight, 12), 12), weight)


def test_file_rows_are_our_rows_permuted_the_llama_cpp_way(smollm2_gguf, smollm2):
    model, _ = smollm2
    reader = GGUFReader(smollm2_gguf)
    config = model.config
    file_q, file_k = _raw(reader, "blk.0.attn_q.weight"), _raw(reader, "blk.0.attn_k.weight")
    ours = model.layers[0].attn
    assert torch.equal(file_q, llama_cpp_permute(ours.q_proj.weight.detach(), config.n_heads))
    assert torch.equal(file_k, llama_cpp_permute(ours.k_proj.weight.detach(), config.n_kv_heads))
    assert config_from_gguf(gguf_metadata(reader)).n_layers == config.n_layers


def test_file_rows_need_interleaved_rope_and_our_rows_need_half_rope(smollm2):
    """Same logits two ways: (file rows, rotate pairs 2i/2i+1) == (our rows, rotate i/i+D/2).
    File rows with the half rotation are a different, wrong model."""
    model, tokenizer = smollm2
    config = model.config
    file_state = {}
    for name, tensor in model.state_dict().items():
        if name.endswith("q_proj.weight"):
            tensor = llama_cpp_permute(tensor, config.n_heads)
        elif name.endswith("k_proj.weight"):
            tensor = llama_cpp_permute(tensor, config.n_kv_heads)
        file_state[name] = tensor
    interleaved = build_model(
        type(config)(**{**config.to_dict(), "rope_interleaved": True}), file_state
    )
    mixed = build_model(config, file_state)
    ids = torch.tensor([tokenizer.encode("The quick brown fox jumps over the lazy dog")])
    with torch.inference_mode():
        ours, theirs, wrong = model(ids), interleaved(ids), mixed(ids)
    assert (ours - theirs).abs().max() < 1e-3
    assert (ours - wrong).abs().max() > 1.0
