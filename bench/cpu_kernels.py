"""The native bf16 matrix product (``infer/cpu/forward.c``) vs torch's best CPU path, same shapes.

Peers, measured in the same process on the same threads and operands:
- torch ``F.linear`` on bf16 tensors (what a bf16 PyTorch model runs);
- torch with the weight prepacked for oneDNN (``mkldnn._linear_pointwise``, as torch.compile's
  CPU "freezing" does): the fastest torch path here, and the ratio we report.

Shapes are SmolLM2-135M's per-layer products (fused QKV, attention output, fused gate/up,
down) and its 49152-row LM head, at 1, 4 and 16 rows (decode batches) and 64 rows (a
prefill chunk). Each timing is the minimum over ``--repeats`` calls, which is robust to a
busy machine; GB/s counts weight bytes read, GFLOP/s the arithmetic.

Run: ``python bench/cpu_kernels.py [--threads 2]``; logged as run ``bench.cpu_kernels``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from scalable_ai.infer import cpu
from scalable_ai.infer.packed_model import _onednn_linear, _onednn_pack
from scalable_ai.runs import open_run

SHAPES = {
    "qkv": (960, 576),
    "o": (576, 576),
    "gate_up": (3072, 576),
    "down": (576, 1536),
    "lm_head": (49152, 576),
}


@dataclass
class BenchConfig:
    threads: int = 2
    rows: tuple[int, ...] = (1, 4, 16, 64)
    repeats: int = 30


def best_time(fn: Callable[[], object], repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    config = BenchConfig(threads=args.threads, repeats=args.repeats)
    if not cpu.available():
        print(f"native kernels skipped: {cpu.why_unbuilt(2) or 'the build failed'}")
        return
    torch.set_num_threads(config.threads)
    pool = cpu.ThreadPool(config.threads)
    from scalable_ai.infer.forward_paths import cpu_model

    print(
        f"CPU: {cpu_model()}; native: {cpu.describe()}; torch {torch.__version__}, "
        f"{config.threads} threads"
    )
    print(
        f"{'shape':>8} {'rows':>4} {'ours ms':>8} {'GB/s':>6} {'GFLOP/s':>8} "
        f"{'oneDNN ms':>9} {'F.linear ms':>11} {'vs oneDNN':>9} {'vs F.linear':>11}"
    )
    with open_run("bench.cpu_kernels", config=config, seed=0) as run:
        step = 0
        for rows in config.rows:
            for name, (n, k) in SHAPES.items():
                torch.manual_seed(0)
                weight = torch.randn(n, k).bfloat16()
                x = torch.randn(rows, k).bfloat16()
                packed, onednn = cpu.pack_weight(weight), _onednn_pack(weight)
                repeats = config.repeats if n * rows < 1_000_000 else max(5, config.repeats // 5)
                ours = best_time(lambda: cpu.gemm(pool, x, packed, n), repeats)  # noqa: B023
                theirs = best_time(lambda: _onednn_linear(x, onednn), repeats)  # noqa: B023
                plain = best_time(lambda: F.linear(x, weight), repeats)  # noqa: B023
                gbs, gflops = n * k * 2 / ours / 1e9, 2 * rows * n * k / ours / 1e9
                print(
                    f"{name:>8} {rows:>4} {ours * 1e3:8.3f} {gbs:6.1f} {gflops:8.1f} "
                    f"{theirs * 1e3:9.3f} {plain * 1e3:11.3f} {theirs / ours:8.2f}x "
                    f"{plain / ours:10.2f}x"
                )
                run.log(
                    step,
                    rows=rows,
                    n=n,
                    k=k,
                    ours_ms=ours * 1e3,
                    onednn_ms=theirs * 1e3,
                    linear_ms=plain * 1e3,
                    ratio_onednn=theirs / ours,
                )
                run.summary(**{f"{name}_{rows}_vs_onednn": theirs / ours})
                step += 1
    pool.close()


if __name__ == "__main__":
    main()
