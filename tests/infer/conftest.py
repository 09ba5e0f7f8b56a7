"""Fixtures for the inference tests: a tiny real transformer and a byte-level tokenizer.

The tiny model is the course's own ``Transformer`` with random weights (2 layers, 4 query
heads sharing 2 key/value heads), so every test runs the real attention seam in milliseconds.
Its LM head is scaled up so greedy choices are far from ties: batched and unbatched float
arithmetic then pick the same token, which is what the equality tests compare.
"""

from __future__ import annotations

import pytest
import torch

from scalable_ai.infer.engine import EngineConfig, LLMEngine
from scalable_ai.model import ModelConfig, Transformer

EOS = 256


class ByteTokenizer:
    """UTF-8 bytes as token ids 0..255, plus ``<eos>`` = 256; a real, lossless tokenizer."""

    eos_token_id = EOS
    vocab_size = 260

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")

    def token_bytes(self) -> list[bytes]:
        """Each id's bytes, for the grammar library (constrained decoding)."""
        return [bytes([i]) for i in range(256)] + [b"<eos>", b"<pad1>", b"<pad2>", b"<pad3>"]

    special_token_ids = (256, 257, 258, 259)

    def apply_chat_template(self, messages: list[dict], add_generation_prompt: bool = True) -> str:
        text = "".join(f"<{m['role']}>{m['content']}\n" for m in messages)
        return text + ("<assistant>" if add_generation_prompt else "")


def tiny_model(seed: int = 0, dtype: torch.dtype = torch.float32, **config) -> Transformer:
    """The course's Transformer, tiny and random; ``config`` overrides (sliding_window, ...)."""
    torch.manual_seed(seed)
    sizes = dict(
        vocab_size=260,
        dim=64,
        n_layers=2,
        n_heads=4,
        n_kv_heads=2,
        ffn_hidden=128,
        max_seq_len=512,
        init_std=0.2,
        name="tiny",
    )
    model = Transformer(ModelConfig(**{**sizes, **config})).to(dtype).eval()
    with torch.no_grad():
        model.norm.weight.mul_(4.0)
    return model


def make_engine(model: Transformer | None = None, **overrides) -> LLMEngine:
    config = EngineConfig(
        **{
            "max_model_len": 512,
            "num_blocks": 256,
            "block_size": 4,
            "max_num_batched_tokens": 64,
            **overrides,
        }
    )
    return LLMEngine(
        model or tiny_model(), ByteTokenizer(), config, model_name="tiny", eos_token_ids=[EOS]
    )


@pytest.fixture(autouse=True)
def flush_denormals():
    """As ``sai serve`` does: tiny random models produce subnormal floats (softmax tails),
    which this CPU multiplies ~20x slower; restored after each test."""
    torch.set_flush_denormal(True)
    yield
    torch.set_flush_denormal(False)


@pytest.fixture
def engine() -> LLMEngine:
    return make_engine()


@pytest.fixture
def tokenizer() -> ByteTokenizer:
    return ByteTokenizer()


class LiveServer:
    """A real uvicorn server on a free loopback port, in a thread, serving the tiny engine."""

    def __init__(self, engine: LLMEngine, admin_token: str | None = None) -> None:
        import socket
        import threading

        import uvicorn

        from scalable_ai.infer.async_engine import AsyncEngine
        from scalable_ai.infer.server import create_app

        self.engine = engine
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.app = create_app({"tiny": AsyncEngine(engine)}, admin_token=admin_token)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        import time

        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


@pytest.fixture
def live_server():
    server = LiveServer(make_engine(max_num_seqs=64, num_blocks=2048))
    yield server
    server.stop()
