"""Quality of each quantized variant (issue 18): held-out perplexity, side by side.

For one model (SmolLM2-135M as shipped, i.e. its Q4_1/Q8_0 values dequantized to bf16, or a
full-precision checkpoint from ``sai speedrun``/``sai train``), in one process: bf16, int8
per channel, int4 groups of 32 asymmetric, and int4 groups of 64 symmetric with round to
nearest, AWQ and GPTQ (with and without act-order). Perplexity is scored on rows of the
corpus's held-out split through the forward that would serve each variant (the native C
kernels with int8 activations, ``infer/perplexity.py``); AWQ and GPTQ calibrate on rows of
the other split. Before anything is measured the script checks the two splits share no
32-token window (a repeated licence text would otherwise leak), and prints the share it
found. Each quantization's wall time is recorded too (it runs on a shared machine: a
guide, not a benchmark).

Run: ``PYTHONPATH=src:. python bench/quant_quality.py [--model smollm2-135m | DIR]
[--calibration-rows 64 --calibration-length 512] [--variants int8,int4-g64-sym-gptq]
[--save DIR]`` (``--save`` keeps each quantized checkpoint for ``sai eval DIR/NAME``).
Results go to a run (``bench.quant_quality``) and are printed as a Markdown table.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

import torch

from scalable_ai.infer.forward_paths import cpu_model
from scalable_ai.infer.perplexity import corpus_rows, perplexity
from scalable_ai.infer.quant import QuantSpec, quantize_model, save_quantized
from scalable_ai.model.registry import load_pretrained
from scalable_ai.runs import open_run

SPECS: dict[str, QuantSpec | None] = {
    "bf16": None,
    "int8": QuantSpec(bits=8, group_size=0, symmetric=True),
    "int4-g32-asym": QuantSpec(bits=4, group_size=32, symmetric=False),
    "int4-g32-asym-awq": QuantSpec(bits=4, group_size=32, symmetric=False, method="awq"),
    "int4-g32-asym-gptq": QuantSpec(bits=4, group_size=32, symmetric=False, method="gptq"),
    "int4-g64-sym": QuantSpec(bits=4, group_size=64, symmetric=True),
    "int4-g64-sym-awq": QuantSpec(bits=4, group_size=64, symmetric=True, method="awq"),
    "int4-g64-sym-gptq": QuantSpec(bits=4, group_size=64, symmetric=True, method="gptq"),
    "int4-g64-sym-gptq-range": QuantSpec(
        bits=4, group_size=64, symmetric=True, method="gptq", range_search=True
    ),
    "int4-g64-sym-gptq-act-range": QuantSpec(
        bits=4, group_size=64, symmetric=True, method="gptq", act_order=True, range_search=True
    ),
    "int4-g64-sym-gptq-act": QuantSpec(
        bits=4, group_size=64, symmetric=True, method="gptq", act_order=True
    ),
}
WINDOW = 32


def shared_windows(held: list[torch.Tensor], calibration: list[torch.Tensor]) -> float:
    """The share of held-out 32-token windows (stride 8) that also occur in calibration."""
    seen = set()
    for row in calibration:
        ids = row.tolist()
        seen.update(tuple(ids[i : i + WINDOW]) for i in range(len(ids) - WINDOW + 1))
    windows = [
        tuple(row.tolist()[i : i + WINDOW])
        for row in held
        for i in range(0, len(row) - WINDOW + 1, 8)
    ]
    return sum(w in seen for w in windows) / max(len(windows), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--ppl-rows", type=int, default=16)
    parser.add_argument("--ppl-length", type=int, default=512)
    parser.add_argument("--calibration-rows", type=int, default=64)
    parser.add_argument("--calibration-length", type=int, default=512)
    parser.add_argument("--variants", default=",".join(SPECS))
    parser.add_argument(
        "--save", type=Path, default=None, help="Also save each quantized variant in DIR/NAME."
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    names = args.variants.split(",")
    print(f"machine: {cpu_model()}, load average {os.getloadavg()}", flush=True)
    with open_run("bench.quant_quality", config=vars(args)) as run:
        base, tokenizer = load_pretrained(args.model, dtype=torch.bfloat16)
        held = corpus_rows(
            tokenizer, "held_out", args.ppl_rows, args.ppl_length, max_bytes=64 << 20
        )
        calibration = corpus_rows(
            tokenizer,
            "calibration",
            args.calibration_rows,
            args.calibration_length,
            max_bytes=64 << 20,
        )
        overlap = shared_windows(held, calibration)
        print(f"held-out windows also in the calibration text: {100 * overlap:.2f}%", flush=True)
        results: dict[str, dict[str, float]] = {}
        for name in names:
            spec = SPECS[name]
            model = copy.deepcopy(base)
            start = time.perf_counter()
            if spec is not None:
                quantize_model(model, spec, calibration if spec.method != "rtn" else None)
            seconds = time.perf_counter() - start
            if spec is not None and args.save is not None:
                save_quantized(model, args.save / name, tokenizer)
            value = perplexity(model, held)
            results[name] = {"perplexity": value, "quantize_s": seconds}
            bf16 = results.get("bf16", {}).get("perplexity")
            change = f"{100 * (value / bf16 - 1):+.2f}%" if bf16 else ""
            print(f"  {name:24} {value:9.3f} {change:>8}  ({seconds:.0f} s)", flush=True)
            del model
        reference = results.get("bf16", {}).get("perplexity")
        print("\n| variant | perplexity | vs bf16 | quantize time |\n|---|---|---|---|")
        for name, row in results.items():
            change = f"{100 * (row['perplexity'] / reference - 1):+.2f}%" if reference else "—"
            print(f"| {name} | {row['perplexity']:.3f} | {change} | {row['quantize_s']:.0f} s |")
        run.summary(
            load_average=os.getloadavg()[0],
            shared_windows=overlap,
            **{f"{n}.{k}": v for n, row in results.items() for k, v in row.items()},
        )
        print(f"load average now {os.getloadavg()}")


if __name__ == "__main__":
    main()
