"""Part 4 (lecture 20): profile the engine and plot what batching buys.

Run the same requests through the engine at several ``max_num_seqs`` and record output
tokens per second and engine steps; plot throughput against batch size.

    python profile_engine.py --out plots
"""

from __future__ import annotations

import argparse
from pathlib import Path

from a4_lab import tiny_engine  # noqa: F401 (you will need it)

from scalable_ai.infer.sampling import SamplingParams  # noqa: F401 (you will need it)


def measure(
    batch_sizes: tuple[int, ...] = (1, 2, 4, 8), num_requests: int = 8, max_tokens: int = 16
) -> dict[int, dict[str, float]]:
    """Per batch size: ``tokens_per_s``, ``steps`` and ``output_tokens`` of one run.

    TODO(A4.4): for each batch size build ``tiny_engine(max_num_seqs=batch_size)``, add
    ``num_requests`` requests of exactly ``max_tokens`` output tokens each
    (``SamplingParams(temperature=0, max_tokens=..., ignore_eos=True)``), call
    ``engine.step()`` until no request is unfinished, and count steps, output tokens and
    wall time (``time.perf_counter``).
    """
    raise NotImplementedError("TODO(A4.4): measure")


def plot(results: dict[int, dict[str, float]], path: Path) -> None:
    """TODO(A4.4): throughput against batch size as a PNG at ``path`` (matplotlib, Agg)."""
    raise NotImplementedError("TODO(A4.4): plot")


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
