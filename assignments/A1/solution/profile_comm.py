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


def _time_both(rank: int, world: int, numel: int, repeats: int) -> dict[str, float]:
    """Median seconds of the ring and of gloo's all-reduce, alternated, all ranks in step."""
    tensor = torch.randn(numel)
    ring, builtin = [], []
    for _ in range(repeats + 1):  # the first round warms up the connections
        dist.barrier()
        started = time.perf_counter()
        ring_all_reduce(tensor)
        ring.append(time.perf_counter() - started)
        dist.barrier()
        started = time.perf_counter()
        dist.all_reduce(tensor)
        builtin.append(time.perf_counter() - started)
    return {"ring_s": statistics.median(ring[1:]), "builtin_s": statistics.median(builtin[1:])}


def measure(
    sizes: tuple[int, ...] = (2**10, 2**14, 2**18), world_size: int = 4, repeats: int = 3
) -> list[dict[str, float]]:
    """Per message size (float32 elements): ``numel``, ``bytes``, ``ring_s``, ``builtin_s``
    and both bus bandwidths in GB/s (rank 0's timings)."""
    rows = []
    for numel in sizes:
        timing = run_world(world_size, _time_both, numel, repeats)[0]
        nbytes = numel * 4
        moved = nbytes * 2 * (world_size - 1) / world_size
        rows.append(
            {
                "numel": numel,
                "bytes": nbytes,
                **timing,
                "ring_bus_gbps": moved / timing["ring_s"] / 1e9,
                "builtin_bus_gbps": moved / timing["builtin_s"] / 1e9,
            }
        )
    return rows


def plot(rows: list[dict[str, float]], path: Path) -> None:
    """Bus bandwidth against message size, yours and gloo's, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [row["bytes"] for row in rows]
    figure, axis = plt.subplots(figsize=(5, 3.5))
    axis.plot(sizes, [row["ring_bus_gbps"] for row in rows], marker="o", label="your ring")
    axis.plot(sizes, [row["builtin_bus_gbps"] for row in rows], marker="s", label="gloo all_reduce")
    axis.set_xscale("log", base=2)
    axis.set_yscale("log")
    axis.set_xlabel("message size (bytes)")
    axis.set_ylabel("bus bandwidth (GB/s)")
    axis.set_title("All-reduce bus bandwidth")
    axis.legend()
    axis.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


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
