"""Speculative decoding (prompt lookup) on SmolLM2-135M: single-stream speedup, same output.

The workload repeats its input, as code editing and extraction do: the model is asked to
rewrite a function with one name changed, or to copy out the lines of a log that mention an
error. Each case runs greedily with and without ``speculative="ngram"`` on the same engine
(our own non-speculative path is the peer), alternating, best of ``--repeats``; the outputs
must be identical token for token. Prints tokens/s, the ratio, the acceptance rate and the
tokens gained per target forward, and records them as one run (``bench.speculative``);
``--k`` sets the guesses per step.

    PYTHONPATH=src python bench/speculative.py [--threads 2] [--repeats 3] [--k 4]
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime

import torch

from scalable_ai.infer.engine import EngineConfig, LLMEngine, load_engine
from scalable_ai.infer.sampling import SamplingParams

CODE = """def load_scores(path):
    scores = {}
    with open(path) as handle:
        for line in handle:
            name, value = line.strip().split(",")
            scores[name] = float(value)
    return scores


def best_student(scores):
    best_name, best_value = None, float("-inf")
    for name, value in scores.items():
        if value > best_value:
            best_name, best_value = name, value
    return best_name, best_value
"""

LOG = "\n".join(
    f"2026-12-04 10:{i:02d}:00 {'ERROR disk /dev/sda' + str(i % 3) + ' is full' if i % 4 == 0 else 'INFO request served in ' + str(10 + i) + ' ms'}"
    for i in range(24)
)

CASES = {
    "code edit": "Rename the function load_scores to read_scores everywhere in this code and "
    f"return the whole code:\n\n{CODE}",
    "extraction": f"Copy every line of this log that contains ERROR, exactly as written:\n\n{LOG}",
}


def timed(engine: LLMEngine, prompt: list[int], params: SamplingParams) -> tuple[list[int], float]:
    start = time.perf_counter()
    tokens = engine.generate([prompt], params)[0][0]
    return tokens, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=200)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    from scalable_ai.infer.forward_paths import cpu_model
    from scalable_ai.runs import open_run

    engine = load_engine("smollm2-135m", config=EngineConfig(max_model_len=2048))
    summary: dict[str, float] = {}
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cpus, {args.threads} threads; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"path {engine.runner.path}, k = {args.k}, greedy, {args.max_tokens} tokens at most")
    print(
        f"{'case':12} {'tokens':>6} {'plain tok/s':>11} {'spec tok/s':>10} {'speedup':>7} "
        f"{'accepted':>8} {'tok/step':>8} same"
    )
    for name, question in CASES.items():
        text = engine.tokenizer.apply_chat_template([{"role": "user", "content": question}])
        prompt = engine.tokenizer.encode(text)
        plain = SamplingParams(max_tokens=args.max_tokens, temperature=0)
        spec = SamplingParams(
            max_tokens=args.max_tokens,
            temperature=0,
            speculative="ngram",
            num_speculative_tokens=args.k,
        )
        timed(engine, prompt, SamplingParams(max_tokens=8, temperature=0))  # warm the prefix
        plain_times, spec_times = [], []
        before = (
            engine.speculation.num_draft_tokens,
            engine.speculation.num_accepted_tokens,
            engine.speculation.num_verify_steps,
        )
        for _ in range(args.repeats):
            expected, seconds = timed(engine, prompt, plain)
            plain_times.append(seconds)
            got, seconds = timed(engine, prompt, spec)
            spec_times.append(seconds)
            assert got == expected, f"{name}: speculative output differs"
        drafts = engine.speculation.num_draft_tokens - before[0]
        accepted = engine.speculation.num_accepted_tokens - before[1]
        steps = engine.speculation.num_verify_steps - before[2]
        plain_rate = len(expected) / min(plain_times)
        spec_rate = len(expected) / min(spec_times)
        key = name.replace(" ", "_")
        summary[f"{key}_speedup"] = spec_rate / plain_rate
        summary[f"{key}_acceptance_rate"] = accepted / max(drafts, 1)
        summary[f"{key}_tokens_per_step"] = (accepted + steps) / max(steps, 1)
        print(
            f"{name:12} {len(expected):6d} {plain_rate:11.1f} {spec_rate:10.1f} "
            f"{spec_rate / plain_rate:6.2f}x {accepted / max(drafts, 1):8.2f} "
            f"{(accepted + steps) / max(steps, 1):8.2f} yes"
        )

    with open_run("bench.speculative", config={**vars(args), "machine": cpu_model()}) as record:
        record.summary(**summary)


if __name__ == "__main__":
    main()
