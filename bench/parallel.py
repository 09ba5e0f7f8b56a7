"""Each parallel spec on this CPU: tokens/s, peak memory per rank, and the share of a step
spent in collectives, for the micro model on gloo processes (one table, one PNG).

The peer is the single-process run of the same model and batch, measured in the same
sitting: a spec's ratio is its tokens/s over one process's, in wall time and in tokens per
CPU-second summed over ranks (steadier on a shared machine: it is the cost of splitting).
On a 2-core machine the processes share the cores, so ratios below 1 are expected; the point
is the comm share and the memory per rank, which the planner predicts.

    .venv/bin/python bench/parallel.py --steps 4 --out bench/parallel.png
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from scalable_ai.parallel.parallelize import ParallelOptions
from scalable_ai.parallel.run import RunSettings, micro_config, train_parallel, train_single
from scalable_ai.parallel.spec import ParallelSpec

SPECS = [
    ("dp=2", {}),
    ("fsdp=2", {}),
    ("tp=2", {}),
    ("pp=2", {}),
    ("cp=2", {}),
    ("ep=2", {"n_experts": 4}),
]
COLLECTIVES = (
    "all_reduce",
    "allreduce",
    "all_gather",
    "allgather",
    "reduce_scatter",
    "all_to_all",
    "alltoall",
    "broadcast",
    "send",
    "recv",
    "gloo",
    "c10d::",
)


def _rank(
    rank: int, world: int, folder: str, spec: str, overrides: dict, settings: RunSettings
) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{folder}/store", rank=rank, world_size=world
    )
    config = micro_config(dim=128, ffn_hidden=256, **overrides)
    cpu_start = time.process_time()
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True
    ) as profile:
        result = train_parallel(ParallelSpec.parse(spec), config, settings, ParallelOptions())
    cpu_seconds = time.process_time() - cpu_start
    events = profile.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    comm = sum(
        e.self_cpu_time_total for e in events if any(word in e.key.lower() for word in COLLECTIVES)
    )
    # the largest net allocation of any one operator (profiler memory events), not RSS
    peak = max((e.cpu_memory_usage for e in events), default=0)
    tokens = settings.batch_size * settings.seq_len * settings.steps  # as timed for one process
    torch.save(
        {
            "tokens_per_s": tokens / sum(result["seconds"]),
            "cpu_seconds": cpu_seconds,
            "comm_share": comm / total,
            "peak_mib": peak / 2**20,
        },
        Path(folder) / f"rank{rank}.pt",
    )
    dist.destroy_process_group()


def measure(spec: str, overrides: dict, settings: RunSettings) -> list[dict]:
    with tempfile.TemporaryDirectory() as folder:
        mp.start_processes(
            _rank, args=(2, folder, spec, overrides, settings), nprocs=2, start_method="spawn"
        )
        return [torch.load(Path(folder) / f"rank{r}.pt") for r in range(2)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--out", type=Path, default=Path("bench/parallel.png"))
    args = parser.parse_args()
    settings = RunSettings(steps=args.steps, batch_size=4, seq_len=64)
    torch.set_num_threads(1)
    tokens = settings.batch_size * settings.seq_len * settings.steps
    start, cpu_start = time.perf_counter(), time.process_time()
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True
    ):  # profiled like the ranks, so both carry the profiler's overhead
        train_single(micro_config(dim=128, ffn_hidden=256), settings)
    single = tokens / (time.perf_counter() - start)
    single_cpu = tokens / (time.process_time() - cpu_start)
    print(
        f"{platform.processor() or platform.machine()}, torch {torch.__version__}, gloo, "
        f"micro model dim 128, batch {settings.batch_size} x {settings.seq_len}"
    )
    print(
        f"{'spec':8} {'tok/s':>8} {'vs 1 proc':>9} {'tok/CPU-s':>10} {'vs 1 proc':>9} "
        f"{'comm %':>7} {'max op MiB':>11}"
    )
    print(f"{'single':8} {single:8.0f} {1.0:9.2f} {single_cpu:10.0f} {1.0:9.2f} {0:7.0f}")
    rows = []
    for spec, overrides in SPECS:
        ranks = measure(spec, overrides, settings)
        rate = ranks[0]["tokens_per_s"]
        comm = 100 * sum(r["comm_share"] for r in ranks) / len(ranks)
        peak = max(r["peak_mib"] for r in ranks)
        per_cpu = (
            settings.batch_size
            * settings.seq_len
            * settings.steps
            / sum(r["cpu_seconds"] for r in ranks)
        )
        rows.append((spec, rate, comm, peak))
        print(
            f"{spec:8} {rate:8.0f} {rate / single:9.2f} {per_cpu:10.0f} "
            f"{per_cpu / single_cpu:9.2f} {comm:7.1f} {peak:11.1f}"
        )
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    names = [r[0] for r in rows]
    left.bar(names, [r[1] for r in rows])
    left.axhline(single, color="grey", linestyle="--", label="one process")
    left.set_ylabel("tokens/s")
    left.legend()
    right.bar(names, [r[2] for r in rows], color="tab:orange")
    right.set_ylabel("% of CPU time in collectives")
    figure.suptitle("parallel specs on 2 gloo processes (micro model, CPU)")
    figure.tight_layout()
    figure.savefig(args.out, dpi=100)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
