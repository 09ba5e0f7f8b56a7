"""Every forward path this CPU runs, timed on SmolLM2-135M bf16: the data behind the table in
``infer/forward_paths.py`` that ``auto`` picks from.

For each path (``SAI_FORWARD_PATH`` values; those this machine cannot run are listed as
skipped with the reason) the engine is built on the same bf16 weights and measured in
CPU time of this process (stable on a shared machine; ``--threads 1`` by default):

- prefill tokens/s: a ``prompt_tokens`` prompt, one output token, prefix cache off;
- decode tokens/s at 1 stream and at ``streams`` streams: greedy tokens after a short
  prompt, from each stream's first token to its last.

The peer is ``packed-torch`` (PyTorch's own ``F.linear`` products on the fused weights),
measured in the same run: each row prints its ratio to it. The CPU model is printed
first, so figures are never separated from the machine. Each number is also logged as a
run (``bench.forward_paths``).

Run: ``python bench/forward_paths.py [--streams 16] [--decode-tokens 32] [--threads 1]``.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import asdict, dataclass

import torch
from rich.progress import Progress

from scalable_ai.infer.engine import EngineConfig, LLMEngine
from scalable_ai.infer.forward_paths import (
    PATHS,
    auto_path,
    cpu_features,
    cpu_model,
    unavailable_reason,
)
from scalable_ai.infer.sampling import SamplingParams
from scalable_ai.model.registry import load_pretrained
from scalable_ai.runs import open_run

PEER = "packed-torch"


@dataclass
class BenchConfig:
    model: str = "smollm2-135m"
    prompt_tokens: int = 128
    decode_tokens: int = 32
    streams: int = 16
    threads: int = 1


def measure(engine: LLMEngine, config: BenchConfig) -> dict[str, float]:
    """Prefill and decode tokens per CPU-second for one engine."""
    generator = torch.Generator().manual_seed(0)
    prompt = torch.randint(100, 40000, (config.prompt_tokens,), generator=generator).tolist()
    engine.generate([prompt[:8]], SamplingParams(temperature=0, max_tokens=4))  # warm-up
    start = time.process_time()
    engine.generate([prompt], SamplingParams(temperature=0, max_tokens=1))
    prefill = config.prompt_tokens / (time.process_time() - start)
    out = {"prefill_tok_s": prefill}
    for streams in (1, config.streams):
        prompts = [prompt[i : i + 8] for i in range(streams)]
        params = SamplingParams(temperature=0, max_tokens=2, ignore_eos=True)
        engine.generate(prompts, params)  # the prompts' prefill, outside the timing
        params = SamplingParams(temperature=0, max_tokens=config.decode_tokens, ignore_eos=True)
        for p in prompts:
            engine.add_request(p, params)
        engine.step()  # the prefill step of every stream
        start = time.process_time()
        produced = 0
        while engine.has_unfinished_requests():
            produced += len(engine.step())
        out[f"decode{streams}_tok_s"] = produced / (time.process_time() - start)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = BenchConfig()
    for name, value in asdict(defaults).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    config = BenchConfig(**vars(parser.parse_args(argv)))
    torch.set_num_threads(config.threads)
    torch.set_flush_denormal(True)
    model, tokenizer = load_pretrained(config.model, dtype="bfloat16")
    cpu = torch.device("cpu")
    print(f"CPU: {cpu_model()}; threads {config.threads}", file=sys.stderr)
    chosen = auto_path(torch.bfloat16, "cpu", cpu_features())
    results: dict[str, dict[str, float]] = {}
    runnable = [p for p in PATHS if unavailable_reason(p, model, cpu) is None]
    with open_run("bench.forward_paths", config={**asdict(config), "cpu": cpu_model()}) as run:
        with Progress(transient=True) as progress:
            task = progress.add_task("forward paths", total=len(runnable))
            for path in runnable:
                progress.update(task, description=path)
                engine = LLMEngine(
                    model,
                    tokenizer,
                    EngineConfig(
                        max_model_len=512,
                        kv_cache_megabytes=64,
                        forward_path=path,
                        enable_prefix_caching=False,
                        max_num_batched_tokens=512,
                    ),
                )
                results[path] = measure(engine, config)
                run.log(len(results), **{f"{path}.{k}": v for k, v in results[path].items()})
                del engine
                progress.advance(task)
        run.summary(**{f"{p}.{k}": v for p, r in results.items() for k, v in r.items()})
    peer = results.get(PEER)
    keys = ("prefill_tok_s", "decode1_tok_s", f"decode{config.streams}_tok_s")
    print(
        f"{'path':20s} {'prefill':>9s} {'decode 1':>9s} {f'decode {config.streams}':>10s}"
        f"   tokens per CPU-second; (x {PEER})"
    )
    for path, row in results.items():
        cells = []
        for key in keys:
            ratio = f" ({row[key] / peer[key]:.2f}x)" if peer else ""
            cells.append(f"{row[key]:7.1f}{ratio}")
        mark = "  <- auto" if path == chosen else ""
        print(f"{path:20s} " + "  ".join(cells) + mark)
    for path in PATHS:
        if path not in results:
            print(f"{path:20s} skipped: {unavailable_reason(path, model, cpu)}")


if __name__ == "__main__":
    main()
