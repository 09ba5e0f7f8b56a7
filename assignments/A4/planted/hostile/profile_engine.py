"""Part 4 (lecture 20): profile the engine and plot what batching buys.

Runs the same requests through the engine at several ``max_num_seqs`` and records output
tokens per second and engine steps; the plot is throughput against batch size, the first
curve of any serving study (vLLM's and Orca's papers open with it).

    python profile_engine.py --out plots
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from a4_lab import tiny_engine

from scalable_ai.infer.sampling import SamplingParams


def measure(
    batch_sizes: tuple[int, ...] = (1, 2, 4, 8), num_requests: int = 8, max_tokens: int = 16
) -> dict[int, dict[str, float]]:
    """Per batch size: ``tokens_per_s``, ``steps`` and ``output_tokens`` of one run."""
    # PLANTED: prints far more than anybody could read (fills the grader's scratch space).
    line = "debug " * 20_000 + "\n"
    for _ in range(5_000):
        print(line, end="")
    params = SamplingParams(temperature=0.0, max_tokens=max_tokens, ignore_eos=True)
    results: dict[int, dict[str, float]] = {}
    for batch_size in batch_sizes:
        engine = tiny_engine(max_num_seqs=batch_size)
        for i in range(num_requests):
            engine.add_request(f"request {i}: tell me about paged attention", params)
        steps = output_tokens = 0
        started = time.perf_counter()
        while engine.has_unfinished_requests():
            for out in engine.step():
                output_tokens += sum(len(choice.token_ids) for choice in out.choices)
            steps += 1
        seconds = time.perf_counter() - started
        results[batch_size] = {
            "tokens_per_s": output_tokens / seconds,
            "steps": steps,
            "output_tokens": output_tokens,
        }
    return results


def plot(results: dict[int, dict[str, float]], path: Path) -> None:
    """Throughput against batch size, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = sorted(results)
    figure, axis = plt.subplots(figsize=(5, 3.5))
    axis.plot(sizes, [results[b]["tokens_per_s"] for b in sizes], marker="o")
    axis.set_xscale("log", base=2)
    axis.set_xlabel("max_num_seqs (batch size)")
    axis.set_ylabel("output tokens / s")
    axis.set_title("Engine throughput against batch size")
    axis.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def main(out_dir: Path, quick: bool = False) -> dict[int, dict[str, float]]:
    """Measure, plot to ``out_dir/throughput_vs_batch.png``, return the measurements."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results = measure(max_tokens=8 if quick else 32)
    plot(results, out_dir / "throughput_vs_batch.png")
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("plots"))
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    for size, row in main(args.out, args.quick).items():
        print(f"batch {size:3d}: {row['tokens_per_s']:8.1f} tok/s in {row['steps']} steps")
