"""A tiny checkpoint in our format and a real ``sai serve`` of it, shared by the evaluation
and data-designer tests (one server process for the module group: starting one costs seconds).

The model is the course's Transformer, one layer, random, over printable ASCII with GPT-2's
byte-level alphabet (space is ``Ġ``, newline ``Ċ``) and no merges, with a ChatML template.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import torch

CHATML = (
    "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\n' + "
    "message['content'] + '<|im_end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
SERVER_GROUP = pytest.mark.xdist_group("eval-tiny-server")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", "xdist_group(name): run on one xdist worker")


def save_tiny_checkpoint(folder: Path, seed: int = 0) -> Path:
    from scalable_ai.model import ModelConfig, Transformer
    from scalable_ai.model.load.safetensors import save_checkpoint
    from scalable_ai.model.tokenizer import tokenizer_from_gguf_metadata

    pieces = ["Ċ", "Ġ"] + [chr(c) for c in range(ord("!"), ord("~") + 1)]
    tokens = SPECIALS + pieces
    tokenizer = tokenizer_from_gguf_metadata(
        {
            "tokenizer.ggml.model": "gpt2",
            "tokenizer.ggml.pre": "gpt2",
            "tokenizer.ggml.tokens": tokens,
            "tokenizer.ggml.merges": [],
            "tokenizer.ggml.token_type": [3] * len(SPECIALS) + [1] * len(pieces),
            "tokenizer.ggml.bos_token_id": 1,
            "tokenizer.ggml.eos_token_id": 2,
            "tokenizer.chat_template": CHATML,
        }
    )
    torch.manual_seed(seed)
    config = ModelConfig(
        vocab_size=len(tokens),
        dim=32,
        n_layers=1,
        n_heads=2,
        n_kv_heads=1,
        ffn_hidden=64,
        max_seq_len=1024,
        tie_embeddings=True,
        init_std=0.1,
        name="tiny-eval",
    )
    model = Transformer(config).eval()
    with torch.no_grad():
        model.embed.weight[: len(SPECIALS)] = 0.0  # never ends an answer early
    save_checkpoint(model, folder)
    tokenizer.save(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return save_tiny_checkpoint(tmp_path_factory.mktemp("tiny-eval") / "tiny-eval")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def tiny_server(tiny_checkpoint, tmp_path_factory) -> Iterator[str]:
    """``sai serve`` of the tiny checkpoint as its own process; yields its ``/v1`` URL."""
    root = tmp_path_factory.mktemp("tiny-server")
    port = free_port()
    env = {**os.environ, "SAI_DATA_DIR": str(root / "data"), "SAI_RUNS_DIR": str(root / "runs")}
    command = [sys.executable, "-m", "scalable_ai.cli", "serve", str(tiny_checkpoint)]
    command += ["--port", str(port), "--dtype", "float32", "--max-model-len", "1024"]
    command += ["--kv-cache-megabytes", "16", "--threads", "1"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise RuntimeError(process.stdout.read().decode())  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("sai serve did not come up in 90 s")
        time.sleep(0.1)
    yield f"{url}/v1"
    process.terminate()
    process.wait(30)
