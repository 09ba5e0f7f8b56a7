"""Grammar-constrained decoding's cost per token at 16 concurrent requests (SmolLM2-135M).

The same 16 prompts run as one continuous batch twice: free, and under a JSON schema
(``response_format`` through ``infer/grammar.py``); our own unconstrained path is the peer.
The schema asks for at least 40 strings, so neither run can end before ``--max-tokens``:
both generate exactly 16 × max_tokens tokens and the ratio of their times is the overhead
per token. Best of ``--repeats``, alternating. Also times the mask alone (llguidance's
bitmask for 16 rows + applying it to the logits) per step.

    PYTHONPATH=src python bench/constrained.py [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime

import torch

from scalable_ai.infer.engine import EngineConfig, load_engine
from scalable_ai.infer.grammar import apply_constraints
from scalable_ai.infer.sampling import SamplingParams
from scalable_ai.infer.tools import response_format_grammar

SCHEMA = {
    "type": "object",
    "properties": {
        "cities": {"type": "array", "items": {"type": "string"}, "minItems": 40},
    },
    "required": ["cities"],
    "additionalProperties": False,
}
QUESTIONS = [f"List {n} cities of country number {n}, as JSON." for n in range(16)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=64)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    from scalable_ai.infer.forward_paths import cpu_model

    engine = load_engine("smollm2-135m", config=EngineConfig(max_model_len=1024))
    grammar = response_format_grammar(
        {"type": "json_schema", "json_schema": {"name": "cities", "schema": SCHEMA}}
    )
    engine.grammar_compiler().check(grammar)  # the token table, built once (~1 s)
    prompts = [
        engine.tokenizer.apply_chat_template([{"role": "user", "content": q}]) for q in QUESTIONS
    ]
    modes = {
        "free": SamplingParams(max_tokens=args.max_tokens, temperature=0, ignore_eos=True),
        "json schema": SamplingParams(
            max_tokens=args.max_tokens, temperature=0, ignore_eos=True, grammar=grammar
        ),
    }
    engine.generate(prompts, SamplingParams(max_tokens=2, temperature=0))  # prefixes cached
    best = {mode: float("inf") for mode in modes}
    counts = {}
    for _ in range(args.repeats):
        for mode, params in modes.items():
            start = time.perf_counter()
            outputs = engine.generate(prompts, params)
            best[mode] = min(best[mode], time.perf_counter() - start)
            counts[mode] = sum(len(choice) for output in outputs for choice in output)
    # The mask alone: 16 matchers at the start of the schema, on one step's logits.
    constraints = [engine.grammar_compiler().matcher(grammar) for _ in range(16)]
    logits = torch.randn(16, engine.model_config.vocab_size)
    start = time.perf_counter()
    for _ in range(50):
        apply_constraints(logits, list(range(16)), constraints)
    mask_ms = (time.perf_counter() - start) / 50 * 1e3
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cpus, {args.threads} threads; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"path {engine.runner.path}; 16 concurrent, {args.max_tokens} tokens each, greedy")
    print(f"{'mode':12} {'tokens':>6} {'seconds':>8} {'tok/s':>7} {'ms/token':>8}")
    for mode in modes:
        rate = counts[mode] / best[mode]
        print(f"{mode:12} {counts[mode]:6d} {best[mode]:8.2f} {rate:7.1f} {1e3 / rate:8.3f}")
    per_token = {mode: best[mode] / counts[mode] for mode in modes}
    overhead = per_token["json schema"] / per_token["free"] - 1
    print(f"constrained overhead per token: {overhead:+.1%} (target <= 10%)")
    print(f"mask for 16 rows (llguidance bitmask + apply): {mask_ms:.2f} ms per step")


if __name__ == "__main__":
    main()
