"""Part 5 (lecture: profiling collectives): how fast is your ring, and what does it reach?

Times your ``ring_all_reduce`` and gloo's own ``all_reduce`` on the same world for growing
message sizes, and plots the **bus bandwidth**, the figure NCCL's ``all_reduce_perf`` reports:
``bytes · 2 (N - 1) / N / seconds``, the rate at which each rank's link carries data (for a
ring it is independent of ``N``, which makes different world sizes comparable).

    python profile_comm.py --out plots
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
import torch.distributed as dist
from a1_lab import run_world
from ring_allreduce import ring_all_reduce


def measure(
    sizes: tuple[int, ...] = (2**10, 2**14, 2**18), world_size: int = 4, repeats: int = 3
) -> list[dict[str, float]]:
    """Per message size (float32 elements): ``numel``, ``bytes``, ``ring_s``, ``builtin_s``
    and both bus bandwidths in GB/s (rank 0's timings)."""
    # TODO(A1.13): in one world per size (``run_world``), time your ring and
    #   ``dist.all_reduce`` alternately (a ``dist.barrier()`` before each, so every rank starts
    #   together; a first round to warm up), keep the medians, and compute the bus bandwidth
    #   ``bytes * 2 (N - 1) / N / seconds``.
    raise NotImplementedError("TODO(A1.13): measure")


def plot(rows: list[dict[str, float]], path: Path) -> None:
    """Bus bandwidth against message size, yours and gloo's, as a PNG."""
    raise NotImplementedError("TODO(A1.14): plot (matplotlib, log-log axes)")


def main(out_dir: Path, quick: bool = False) -> list[dict[str, float]]:
    """Measure, plot to ``out_dir/allreduce_bandwidth.png``, return the measurements."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = measure(sizes=(2**8, 2**12) if quick else (2**10, 2**14, 2**18, 2**22))
    plot(rows, out_dir / "allreduce_bandwidth.png")
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("plots"))
    parser.add_argument("--quick", action="store_true")
    for row in main(parser.parse_args().out, parser.parse_args().quick):
        print(row)
