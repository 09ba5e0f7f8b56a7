"""Shared fixtures of A4's visible and hidden tests: a tiny real model, the lab stack's engine
with a submission's part plugged in, and a model-free scheduler simulator.

Each part is tested with the lab stack's own components around it (the allocator inside the
real scheduler and engine, the admission policy with the real block pool), so a bug in one
part costs only that part's points.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from scalable_ai.infer.engine import EngineConfig, LLMEngine
from scalable_ai.infer.kv_cache import BlockPool
from scalable_ai.infer.sampling import SamplingParams
from scalable_ai.infer.scheduler import Scheduler, SchedulerConfig
from scalable_ai.infer.sequence import TokenSequence
from scalable_ai.model import ModelConfig, Transformer

pytest_plugins = ["scalable_ai.kits.plugin"]

EOS = 256


class ByteTokenizer:
    """UTF-8 bytes as token ids 0..255, plus ``<eos>`` = 256."""

    eos_token_id = EOS
    vocab_size = 260

    def encode(self, text: str) -> list[int]:
        return list(text.encode("utf-8"))

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return bytes(i for i in ids if i < 256).decode("utf-8", errors="replace")


def tiny_model(seed: int = 0, n_layers: int = 2) -> Transformer:
    """The course's Transformer, tiny and random; a sharpened head keeps greedy choices far
    from ties, so batched and unbatched arithmetic pick the same tokens."""
    torch.manual_seed(seed)
    config = ModelConfig(
        vocab_size=260, dim=64, n_layers=n_layers, n_heads=4, n_kv_heads=2, ffn_hidden=128,
        max_seq_len=512, init_std=0.2, name="tiny",
    )  # fmt: skip
    model = Transformer(config).eval()
    with torch.no_grad():
        model.norm.weight.mul_(4.0)
    return model


class PoolAdapter:
    """The lab stack's ``BlockPool`` surface over a student's ``BlockAllocator`` (prefix
    caching off, so only allocate/share/release and the counts are used)."""

    queried_tokens = 0
    hit_tokens = 0
    hit_rate = 0.0

    def __init__(self, allocator) -> None:
        self.allocator = allocator
        self.num_blocks = allocator.num_blocks

    @property
    def num_free(self) -> int:
        return self.allocator.num_free

    @property
    def num_used(self) -> int:
        return self.num_blocks - self.allocator.num_free

    def allocate(self) -> int:
        return self.allocator.allocate()

    def share(self, block: int) -> None:
        self.allocator.share(block)

    def release(self, block: int) -> None:
        self.allocator.release(block)

    def lookup_prefix(self, hashes) -> list[int]:
        return []

    def register_full(self, block: int, hash_value: int) -> None:
        pass

    def reset_prefix_cache(self) -> None:
        pass


PROMPTS = [
    "The paged KV cache",
    "Continuous batching admits new requests every step",
    "Speculative",
    "A block table maps logical blocks to physical ones.",
    "Orca",
    "vLLM and SGLang",
]


class Lab:
    """Builders the tests share (one place, so visible and hidden tests agree)."""

    tokenizer = ByteTokenizer()
    prompts = PROMPTS
    tiny_model = staticmethod(tiny_model)

    @staticmethod
    def engine(num_blocks: int = 256, block_size: int = 4, **overrides) -> LLMEngine:
        config = EngineConfig(
            max_model_len=num_blocks * block_size, num_blocks=num_blocks, block_size=block_size,
            max_num_batched_tokens=32, max_num_seqs=8, enable_prefix_caching=False,
            forward_path="packed-torch", **overrides,
        )  # fmt: skip
        # (The tiny model is f32: the PyTorch forward, named so nothing else is considered.)
        return LLMEngine(tiny_model(), ByteTokenizer(), config, "tiny", eos_token_ids=[EOS])

    @staticmethod
    def with_allocator(engine: LLMEngine, allocator) -> LLMEngine:
        """Put a student's allocator under the engine's real scheduler."""
        engine.pool = PoolAdapter(allocator)
        engine.scheduler = Scheduler(engine.scheduler.config, engine.pool)
        return engine

    @staticmethod
    def with_scheduler(engine: LLMEngine, scheduler_class: type) -> LLMEngine:
        engine.scheduler = scheduler_class(engine.scheduler.config, engine.pool)
        return engine

    @staticmethod
    def run(engine: LLMEngine, prompts: list[str], max_tokens: int = 16, max_steps: int = 3000):
        """Greedy outputs per prompt; fails if the engine stops making progress."""
        params = SamplingParams(temperature=0.0, max_tokens=max_tokens, ignore_eos=True)
        ids = [engine.add_request(p, params) for p in prompts]
        outputs: dict[str, list[int]] = {rid: [] for rid in ids}
        for _ in range(max_steps):
            if not engine.has_unfinished_requests():
                return [outputs[rid] for rid in ids]
            for out in engine.step():
                outputs[out.request_id].extend(out.choices[0].token_ids)
        raise AssertionError(
            f"the engine made no progress in {max_steps} steps "
            f"({engine.pool.num_free} of {engine.pool.num_blocks} blocks free)"
        )

    @staticmethod
    def scheduler(scheduler_class: type = Scheduler, num_blocks: int = 64, **config) -> Scheduler:
        settings = {"max_num_seqs": 8, "max_num_batched_tokens": 16, "block_size": 4, **config}
        return scheduler_class(
            SchedulerConfig(enable_prefix_caching=False, **settings), BlockPool(num_blocks)
        )

    @staticmethod
    def sequence(name: str, prompt_length: int, max_tokens: int = 4) -> TokenSequence:
        params = SamplingParams(temperature=0.0, max_tokens=max_tokens, ignore_eos=True)
        return TokenSequence(name, 0, list(range(1, prompt_length + 1)), params)

    @staticmethod
    def simulate(
        scheduler: Scheduler,
        arrivals: Callable[[int], list[TokenSequence]],
        max_steps: int,
        watch: TokenSequence | None = None,
    ) -> int:
        """Steps until every request (or ``watch``) finishes, without a model: each step
        advances the scheduled sequences, and those that sample get one more token."""
        for step in range(1, max_steps + 1):
            for seq in arrivals(step):
                scheduler.add(seq)
            out = scheduler.schedule()
            scheduler.after_step(out)
            for item in out.scheduled:
                seq = item.seq
                if seq.num_computed == seq.num_tokens:
                    seq.append_token(7)
                    if len(seq.output_token_ids) >= seq.params.max_tokens:
                        scheduler.finish(seq, "length")
            done = watch.is_finished if watch is not None else scheduler.num_unfinished == 0
            if done:
                return step
        return max_steps + 1


@pytest.fixture
def lab() -> type[Lab]:
    return Lab


@pytest.fixture(autouse=True)
def flush_denormals():
    """Tiny random models make subnormal floats, which some CPUs multiply ~20x slower."""
    torch.set_flush_denormal(True)
    yield
    torch.set_flush_denormal(False)
