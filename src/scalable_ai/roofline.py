"""``sai bench roofline``: this machine's ceilings, measured (lecture L2, "All About Performance").

Every speed claim in this project is judged against two physical limits: how fast memory can
be streamed (bytes/s, what bounds single-stream decode) and how fast matmuls run (FLOP/s,
what bounds prefill and batched decode). This measures both with torch on the current device
and writes them to a run, so benchmark ratios can be read against the roofline
(Williams, Waterman and Patterson, "Roofline", CACM 2009).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import typer
from rich.console import Console
from rich.table import Table

from scalable_ai.runs import open_run

roofline_app = typer.Typer(add_completion=False)


@dataclass
class RooflineConfig:
    device: str = "auto"
    bandwidth_mib: int = 512  # large enough to defeat the last-level cache (32 MiB here)
    matmul_size: int = 2048
    repeats: int = 5


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _best_seconds(fn, device: str, repeats: int) -> float:
    fn()  # warm-up: allocations, kernel selection
    _sync(device)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        best = min(best, time.perf_counter() - start)
    return best


def measure(config: RooflineConfig) -> dict[str, float]:
    """Read and copy bandwidth (GB/s) and f32/bf16 matmul throughput (GFLOP/s)."""
    import torch

    device = config.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    n = config.bandwidth_mib * 2**20 // 4
    a = torch.ones(n, dtype=torch.float32, device=device)
    b = torch.empty_like(a)
    read_s = _best_seconds(lambda: a.sum(), device, config.repeats)
    copy_s = _best_seconds(lambda: b.copy_(a), device, config.repeats)
    results = {"read_gb_s": a.nbytes / read_s / 1e9, "copy_gb_s": 2 * a.nbytes / copy_s / 1e9}
    size = config.matmul_size
    for dtype, name in ((torch.float32, "f32"), (torch.bfloat16, "bf16")):
        x = torch.randn(size, size, device=device).to(dtype)
        y = torch.randn(size, size, device=device).to(dtype)
        seconds = _best_seconds(lambda x=x, y=y: x @ y, device, config.repeats)
        results[f"matmul_{name}_gflop_s"] = 2 * size**3 / seconds / 1e9
    results["ridge_f32_flop_per_byte"] = results["matmul_f32_gflop_s"] / results["read_gb_s"]
    return results


@roofline_app.command()
def roofline(
    device: str = typer.Option("auto", help="cpu, cuda, cuda:1, or auto."),
    bandwidth_mib: int = typer.Option(512, help="Buffer size for the bandwidth tests."),
    matmul_size: int = typer.Option(2048, help="Square matmul size."),
    repeats: int = typer.Option(5, help="Timed repeats; the best is kept."),
) -> None:
    """Measure memory bandwidth and matmul FLOP/s; the numbers go into a run."""
    config = RooflineConfig(device, bandwidth_mib, matmul_size, repeats)
    with open_run("bench.roofline", config=config) as run:
        results = measure(config)
        run.summary(**results)
    table = Table(title=f"roofline ({run.id})", show_header=False, title_justify="left")
    for key, value in results.items():
        table.add_row(key, f"{value:,.1f}")
    Console().print(table)
