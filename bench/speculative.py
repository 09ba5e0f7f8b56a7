"""Speculative decoding on SmolLM2-135M: single-stream speedup, same output.

The repetitive workloads repeat their input, as code editing and extraction do: the model is
asked to rewrite a function with one name changed, or to copy out the lines of a log that
mention an error; a plain chat question repeats nothing. Each case runs greedily with and
without speculation on the same engine (our own non-speculative path is the peer),
alternating, best of ``--repeats``; the outputs must be identical token for token. Proposers:
``ngram`` (prompt lookup) always, and ``draft`` when ``--draft DIR`` names a small checkpoint
with SmolLM2's tokenizer (``sai prune smollm2-135m DIR --mode depth ...`` makes one; the
draft runs at ``--draft-quant``). Prints tokens/s, the ratio, the acceptance rate and the
tokens gained per target forward, and records them as one run (``bench.speculative``);
``--k`` sets the guesses per step.

    PYTHONPATH=src python bench/speculative.py [--threads 2] [--repeats 3] [--k 4] \
        [--draft build/draft] [--draft-quant int8]
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
    "chat": "Explain in a few paragraphs why the sky is blue, for a curious ten-year-old.",
}


def timed(engine: LLMEngine, prompt: list[int], params: SamplingParams) -> tuple[list[int], float]:
    start = time.perf_counter()
    tokens = engine.generate([prompt], params)[0][0]
    return tokens, time.perf_counter() - start


def draft_cost(engine: LLMEngine, prompt: list[int], tokens: int) -> float:
    """Seconds per decode step of the draft model alone over seconds per step of the target
    (both single stream, greedy, the same prompt): what one drafted token costs in target
    steps, so ``k`` drafts cost ``k`` times this before the target verifies them."""
    assert engine.drafter is not None
    draft = LLMEngine(
        engine.drafter.model,
        engine.tokenizer,
        EngineConfig(max_model_len=2048),
        model_name="draft",
        eos_token_ids=[],
    )
    params = SamplingParams(max_tokens=tokens, temperature=0, ignore_eos=True)
    seconds = {}
    for name, runner in (("target", engine), ("draft", draft)):
        timed(runner, prompt, SamplingParams(max_tokens=4, temperature=0))
        seconds[name] = min(timed(runner, prompt, params)[1] for _ in range(2))
    return seconds["draft"] / seconds["target"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=200)
    parser.add_argument("--draft", default=None, help="a draft checkpoint (SmolLM2's tokenizer)")
    parser.add_argument("--draft-quant", default=None, help="int8 or int4: quantize the draft")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    from scalable_ai.infer.forward_paths import cpu_model
    from scalable_ai.infer.quant import load_for_serving
    from scalable_ai.runs import open_run

    engine = load_engine("smollm2-135m", config=EngineConfig(max_model_len=2048))
    proposers = ["ngram"]
    if args.draft:
        drafter, _ = load_for_serving(args.draft, "bfloat16", torch.device("cpu"), args.draft_quant)
        engine.set_draft_model(drafter)
        proposers.append("draft")
    summary: dict[str, float] = {}
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} cpus, {args.threads} threads; "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"path {engine.runner.path}, k = {args.k}, greedy, {args.max_tokens} tokens at most")
    if args.draft:
        probe = engine.tokenizer.encode(CASES["chat"])
        summary["draft_cost_per_target_step"] = draft_cost(engine, probe, 64)
        print(
            f"draft {args.draft} ({args.draft_quant or 'bf16'}): one draft step costs "
            f"{summary['draft_cost_per_target_step']:.2f} target steps"
        )
    print(
        f"{'case':12} {'proposer':8} {'tokens':>6} {'plain tok/s':>11} {'spec tok/s':>10} "
        f"{'speedup':>7} {'accepted':>8} {'tok/step':>8} same"
    )
    for name, question in CASES.items():
        text = engine.tokenizer.apply_chat_template([{"role": "user", "content": question}])
        prompt = engine.tokenizer.encode(text)
        plain = SamplingParams(max_tokens=args.max_tokens, temperature=0)
        specs = {
            proposer: SamplingParams(
                max_tokens=args.max_tokens,
                temperature=0,
                speculative=proposer,
                num_speculative_tokens=args.k,
            )
            for proposer in proposers
        }
        timed(engine, prompt, SamplingParams(max_tokens=8, temperature=0))  # warm the prefix
        plain_times: list[float] = []
        spec_times: dict[str, list[float]] = {proposer: [] for proposer in proposers}
        counts = {proposer: [0, 0, 0] for proposer in proposers}  # drafts, accepted, steps
        for _ in range(args.repeats):  # alternating, so every mode sees the same load
            expected, seconds = timed(engine, prompt, plain)
            plain_times.append(seconds)
            for proposer, spec in specs.items():
                stats = engine.speculation
                before = (stats.num_draft_tokens, stats.num_accepted_tokens, stats.num_verify_steps)
                got, seconds = timed(engine, prompt, spec)
                spec_times[proposer].append(seconds)
                assert got == expected, f"{name}, {proposer}: speculative output differs"
                after = (stats.num_draft_tokens, stats.num_accepted_tokens, stats.num_verify_steps)
                for i in range(3):
                    counts[proposer][i] += after[i] - before[i]
        plain_rate = len(expected) / min(plain_times)
        for proposer in proposers:
            drafts, accepted, steps = counts[proposer]
            spec_rate = len(expected) / min(spec_times[proposer])
            key = name.replace(" ", "_") + ("" if proposer == "ngram" else f"_{proposer}")
            summary[f"{key}_speedup"] = spec_rate / plain_rate
            summary[f"{key}_acceptance_rate"] = accepted / max(drafts, 1)
            summary[f"{key}_tokens_per_step"] = (accepted + steps) / max(steps, 1)
            print(
                f"{name:12} {proposer:8} {len(expected):6d} {plain_rate:11.1f} "
                f"{spec_rate:10.1f} {spec_rate / plain_rate:6.2f}x "
                f"{accepted / max(drafts, 1):8.2f} {(accepted + steps) / max(steps, 1):8.2f} yes",
                flush=True,
            )

    config = {**vars(args), "machine": cpu_model(), "load_average": os.getloadavg()[0]}
    with open_run("bench.speculative", config=config) as record:
        record.summary(**summary)


if __name__ == "__main__":
    main()
