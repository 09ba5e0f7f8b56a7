"""Prefill and single-stream decode speed: our engine vs transformers' Llama, same weights.

Both models hold the same dequantized SmolLM2-135M weights (ours from our checkpoint,
transformers' read by transformers from the same GGUF), run in the same process, in the
same dtype, on the same threads, in alternating rounds so that background load hits both
alike; we report the median round and the ratio ours / theirs (above 1: we are faster).

- prefill tokens/s: one forward over a ``prompt_tokens`` prompt, only the last position's
  logits computed (for us: the engine's first step of a one-token request, sampling
  included, prefix cache off; for transformers: ``logits_to_keep=1``).
Ours is the inference engine as ``sai generate`` builds it (the forward path it picks for
this CPU and dtype: ``sai doctor`` names it); transformers runs as it loads.

- decode tokens/s: greedy generation of ``decode_tokens`` tokens after that prompt, timed
  from the first new token to the last (the prefill excluded), through each library's own
  generation loop (``LLMEngine.stream`` / ``generate`` with its KV cache).

Two clocks: wall-clock tokens/s (what a user sees) and CPU-time tokens/s (seconds this
process spent on a core). On a shared machine the wall clock swings with other people's
load; with ``--threads 1`` CPU time does not count waiting to be scheduled, so its ratios
are the stable ones there.

Run: ``python bench/model_forward.py [--rounds 3] [--decode-tokens 64]``. Every number is
also logged as a run (``bench.model_forward``) in the run registry.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import asdict, dataclass

import torch
from rich.console import Console
from rich.progress import Progress

from scalable_ai.infer.engine import EngineConfig, LLMEngine
from scalable_ai.infer.sampling import SamplingParams
from scalable_ai.model.registry import load_pretrained, packaged_gguf
from scalable_ai.runs import open_run


@dataclass
class BenchConfig:
    """What to measure (saved whole into the run)."""

    model: str = "smollm2-135m"
    prompt_tokens: int = 128
    decode_tokens: int = 64
    rounds: int = 3
    dtypes: tuple[str, ...] = ("float32", "bfloat16")
    threads: int = 0  # 0: torch's default


CLOCKS = ("wall", "cpu")
Rates = tuple[float, float]  # (wall-clock tokens/s, CPU-time tokens/s)


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _rates(tokens: int, start: tuple[float, float], end: tuple[float, float]) -> Rates:
    return tokens / (end[0] - start[0]), tokens / (end[1] - start[1])


class _Timestamps:
    """A transformers streamer that notes when each new token arrives."""

    def __init__(self) -> None:
        self.times: list[tuple[float, float]] = []
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # the first call carries the prompt
            self.prompt_seen = True
            return
        self.times.append(_now())

    def end(self) -> None:
        pass


def ours_prefill(engine: LLMEngine, ids: torch.Tensor) -> Rates:
    start = _now()
    engine.generate([ids[0].tolist()], SamplingParams(max_tokens=1, temperature=0))
    return _rates(ids.shape[1], start, _now())


def theirs_prefill(model, ids: torch.Tensor) -> Rates:
    with torch.inference_mode():
        start = _now()
        model(ids, logits_to_keep=1, use_cache=False)
        return _rates(ids.shape[1], start, _now())


def ours_decode(engine: LLMEngine, ids: torch.Tensor, tokens: int) -> Rates:
    params = SamplingParams(max_tokens=tokens, min_tokens=tokens, temperature=0)
    times = [_now() for _ in engine.stream(ids[0].tolist(), params)]
    return _rates(len(times) - 1, times[0], times[-1])


def load_ours(name: str, dtype: torch.dtype) -> LLMEngine:
    """The engine as ``sai generate`` builds it, without the prefix cache (the benchmark
    sends the same prompt every round)."""
    model, tokenizer = load_pretrained(name, dtype=dtype)
    config = EngineConfig(kv_cache_megabytes=64, enable_prefix_caching=False)
    return LLMEngine(model, tokenizer, config, eos_token_ids=sorted(tokenizer.stop_ids()))


def theirs_decode(model, ids: torch.Tensor, tokens: int) -> Rates:
    streamer = _Timestamps()
    with torch.inference_mode():
        model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=tokens,
            min_new_tokens=tokens,
            do_sample=False,
            streamer=streamer,
            pad_token_id=2,
        )
    return _rates(len(streamer.times) - 1, streamer.times[0], streamer.times[-1])


def load_reference(dtype: torch.dtype):
    from transformers import AutoModelForCausalLM, GgufConfig

    gguf = packaged_gguf("smollm2-135m")
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent),
        gguf_file=gguf.name,
        quantization_config=GgufConfig(dequantize=True),
        dtype=torch.float32,
    )
    return model.to(dtype).eval()


def run(config: BenchConfig) -> dict[str, float]:
    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(0)
    ids = torch.randint(100, 40000, (1, config.prompt_tokens))
    results: dict[str, float] = {}
    with open_run("bench.model_forward", config=config, seed=0) as record:
        for step, dtype_name in enumerate(config.dtypes):
            dtype = getattr(torch, dtype_name)
            ours = load_ours(config.model, dtype)
            theirs = load_reference(dtype)
            samples: dict[str, list[Rates]] = {
                k: [] for k in ("ours_prefill", "theirs_prefill", "ours_decode", "theirs_decode")
            }
            ours_decode(ours, ids, 4)  # warm-up: first-call allocations and kernel choice
            theirs_decode(theirs, ids, 4)
            with Progress(console=Console(stderr=True), transient=True) as progress:
                task = progress.add_task(f"{dtype_name}: rounds", total=config.rounds)
                for _ in range(config.rounds):
                    samples["ours_prefill"].append(ours_prefill(ours, ids))
                    samples["theirs_prefill"].append(theirs_prefill(theirs, ids))
                    samples["ours_decode"].append(ours_decode(ours, ids, config.decode_tokens))
                    samples["theirs_decode"].append(
                        theirs_decode(theirs, ids, config.decode_tokens)
                    )
                    progress.advance(task)
            medians = {}
            for clock_index, clock in enumerate(CLOCKS):
                for key, values in samples.items():
                    medians[f"{dtype_name}.{clock}.{key}_tok_s"] = statistics.median(
                        value[clock_index] for value in values
                    )
                for phase in ("prefill", "decode"):
                    medians[f"{dtype_name}.{clock}.{phase}_ratio"] = (
                        medians[f"{dtype_name}.{clock}.ours_{phase}_tok_s"]
                        / medians[f"{dtype_name}.{clock}.theirs_{phase}_tok_s"]
                    )
            record.log(step, **medians)
            results.update(medians)
            del ours, theirs
        record.summary(**results)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    defaults = BenchConfig()
    parser.add_argument("--prompt-tokens", type=int, default=defaults.prompt_tokens)
    parser.add_argument("--decode-tokens", type=int, default=defaults.decode_tokens)
    parser.add_argument("--rounds", type=int, default=defaults.rounds)
    parser.add_argument("--dtypes", default=",".join(defaults.dtypes))
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args(argv)
    config = BenchConfig(
        prompt_tokens=args.prompt_tokens,
        decode_tokens=args.decode_tokens,
        rounds=args.rounds,
        dtypes=tuple(args.dtypes.split(",")),
        threads=args.threads,
    )
    if config.threads:
        torch.set_num_threads(config.threads)
    print(
        f"bench.model_forward {asdict(config)} threads={torch.get_num_threads()}", file=sys.stderr
    )
    results = run(config)
    print(
        f"{'dtype':10s} {'clock':6s} {'phase':8s} {'ours tok/s':>11s} "
        f"{'transformers':>13s} {'ratio':>7s}"
    )
    for dtype_name in config.dtypes:
        for clock in CLOCKS:
            for phase in ("prefill", "decode"):
                key = f"{dtype_name}.{clock}"
                print(
                    f"{dtype_name:10s} {clock:6s} {phase:8s} "
                    f"{results[f'{key}.ours_{phase}_tok_s']:11.1f} "
                    f"{results[f'{key}.theirs_{phase}_tok_s']:13.1f} "
                    f"{results[f'{key}.{phase}_ratio']:7.2f}x"
                )


if __name__ == "__main__":
    main()
