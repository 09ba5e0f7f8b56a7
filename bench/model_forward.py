"""Prefill and single-stream decode speed: our Transformer vs transformers' Llama, same weights.

Both models hold the same dequantized SmolLM2-135M weights (ours from our checkpoint,
transformers' read by transformers from the same GGUF), run in the same process, in the
same dtype, on the same threads, in alternating rounds so that background load hits both
alike; we report the median round and the ratio ours / theirs (above 1: we are faster).

- prefill tokens/s: one forward over a ``prompt_tokens`` prompt, only the last position's
  logits computed (``logits_indices`` for us, ``logits_to_keep=1`` for transformers).
Ours runs in its decode layout (``Transformer.use_decode_layout``: weights stored
transposed so one-token matmuls stream rows); transformers runs as it loads.

- decode tokens/s: greedy generation of ``decode_tokens`` tokens after that prompt, timed
  from the first new token to the last (the prefill excluded), through each library's own
  generation loop (``generate_ids`` / ``generate`` with its KV cache).

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

from scalable_ai.model.generate import SamplingParams, generate_ids
from scalable_ai.model.registry import load_pretrained, packaged_gguf
from scalable_ai.runs import open_run


@dataclass
class BenchConfig:
    model: str = "smollm2-135m"
    prompt_tokens: int = 128
    decode_tokens: int = 64
    rounds: int = 3
    dtypes: tuple[str, ...] = ("float32", "bfloat16")
    threads: int = 0  # 0: torch's default


class _Timestamps:
    """A transformers streamer that notes when each new token arrives."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:  # the first call carries the prompt
            self.prompt_seen = True
            return
        self.times.append(time.perf_counter())

    def end(self) -> None:
        pass


def _decode_rate(times: list[float]) -> float:
    return (len(times) - 1) / (times[-1] - times[0])


def ours_prefill(model, ids: torch.Tensor) -> float:
    last = torch.tensor([ids.shape[1] - 1])
    with torch.inference_mode():
        start = time.perf_counter()
        model(ids, logits_indices=last)
        return ids.shape[1] / (time.perf_counter() - start)


def theirs_prefill(model, ids: torch.Tensor) -> float:
    with torch.inference_mode():
        start = time.perf_counter()
        model(ids, logits_to_keep=1, use_cache=False)
        return ids.shape[1] / (time.perf_counter() - start)


def ours_decode(model, ids: torch.Tensor, tokens: int) -> float:
    times = []
    for _ in generate_ids(model, ids[0].tolist(), SamplingParams(max_new_tokens=tokens,
                                                                  temperature=0)):
        times.append(time.perf_counter())
    return _decode_rate(times)


def theirs_decode(model, ids: torch.Tensor, tokens: int) -> float:
    streamer = _Timestamps()
    with torch.inference_mode():
        model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=tokens,
                       min_new_tokens=tokens, do_sample=False, streamer=streamer,
                       pad_token_id=2)
    return _decode_rate(streamer.times)


def load_reference(dtype: torch.dtype):
    from transformers import AutoModelForCausalLM, GgufConfig

    gguf = packaged_gguf("smollm2-135m")
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, quantization_config=GgufConfig(dequantize=True),
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
            ours, _ = load_pretrained(config.model, dtype=dtype)
            ours.use_decode_layout()
            theirs = load_reference(dtype)
            samples: dict[str, list[float]] = {k: [] for k in
                                               ("ours_prefill", "theirs_prefill",
                                                "ours_decode", "theirs_decode")}
            ours_decode(ours, ids, 4)  # warm-up: first-call allocations and kernel choice
            theirs_decode(theirs, ids, 4)
            for _ in range(config.rounds):
                samples["ours_prefill"].append(ours_prefill(ours, ids))
                samples["theirs_prefill"].append(theirs_prefill(theirs, ids))
                samples["ours_decode"].append(ours_decode(ours, ids, config.decode_tokens))
                samples["theirs_decode"].append(theirs_decode(theirs, ids, config.decode_tokens))
            medians = {f"{dtype_name}.{k}_tok_s": statistics.median(v)
                       for k, v in samples.items()}
            for phase in ("prefill", "decode"):
                medians[f"{dtype_name}.{phase}_ratio"] = (
                    medians[f"{dtype_name}.ours_{phase}_tok_s"]
                    / medians[f"{dtype_name}.theirs_{phase}_tok_s"])
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
    config = BenchConfig(prompt_tokens=args.prompt_tokens, decode_tokens=args.decode_tokens,
                         rounds=args.rounds, dtypes=tuple(args.dtypes.split(",")),
                         threads=args.threads)
    if config.threads:
        torch.set_num_threads(config.threads)
    print(f"bench.model_forward {asdict(config)} threads={torch.get_num_threads()}",
          file=sys.stderr)
    results = run(config)
    print(f"{'dtype':10s} {'phase':8s} {'ours tok/s':>11s} {'transformers':>13s} {'ratio':>7s}")
    for dtype_name in config.dtypes:
        for phase in ("prefill", "decode"):
            print(f"{dtype_name:10s} {phase:8s} "
                  f"{results[f'{dtype_name}.ours_{phase}_tok_s']:11.1f} "
                  f"{results[f'{dtype_name}.theirs_{phase}_tok_s']:13.1f} "
                  f"{results[f'{dtype_name}.{phase}_ratio']:7.2f}x")


if __name__ == "__main__":
    main()
