"""Quantization's effect on speed and quality (issue 18): bf16, int8, int4 and the shipped
GGUF blocks on SmolLM2-135M, against llama.cpp at the matching precision (Q8_0, Q4_1).

For each variant, in one process, alternating rounds so every contender shares whatever else
the machine is doing:

- single-stream decode: greedy tokens/s over ``--tokens`` new tokens after a short prompt
  (prefill included, as llama.cpp's figure), wall clock with ``--threads`` threads, and the
  same work per CPU-second of the process (steadier on a shared machine);
- its fraction of the memory-bandwidth floor: the bytes one decode step must read (every
  matrix at its precision, codes + scales; the embedding row lookup is negligible) divided by
  the step time, over the read bandwidth ``scalable_ai.roofline`` measures in the same run;
- 16 concurrent streams (ours: continuous batching; llama-cpp-python has no batched API);
- held-out perplexity through the same forward (``infer/perplexity.py``; llama.cpp's Q4_1
  file holds the same codes as our ``gguf`` variant).

A second table measures quality alone on a full-precision model trained by ``sai speedrun``
(``--trained CHECKPOINT``): bf16 vs int8 and int4 with RTN, AWQ and GPTQ. A PNG plots
perplexity against single-stream speed. Results go to a run (``bench.efficiency``).

Run: ``PYTHONPATH=src:. python bench/efficiency.py [--trained DIR] [--rounds 3]``; llama.cpp
is measured when ``llama_cpp`` imports (FACTS.md: build it with AMX off on Intel Xeons).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch
from bench.serving import llama_cpp_decoder
from torch import nn

from scalable_ai.infer.engine import EngineConfig, LLMEngine
from scalable_ai.infer.forward_paths import cpu_model
from scalable_ai.infer.perplexity import corpus_rows, perplexity
from scalable_ai.infer.quant import QuantizedLinear, QuantSpec, from_gguf, quantize_model
from scalable_ai.infer.sampling import SamplingParams
from scalable_ai.model.registry import load_pretrained, packaged_gguf
from scalable_ai.roofline import RooflineConfig, measure
from scalable_ai.runs import open_run

PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."
LLAMA_PEERS = {"int8": "Q8_0", "int4": "Q4_1", "gguf": "Q4_1"}


def step_bytes(model: nn.Module) -> int:
    """Bytes one decode step reads: every linear layer (the LM head too) at its precision."""
    total = 0
    for module in model.modules():
        if isinstance(module, QuantizedLinear):
            total += module.codes.numel() * module.bits // 8 + 8 * module.scales.numel()
        elif isinstance(module, nn.Linear):
            total += module.weight.numel() * module.weight.element_size()
    return total


def gguf_bytes(path: Path) -> int:
    from gguf import GGUFReader

    return sum(int(t.n_bytes) for t in GGUFReader(path).tensors)  # tied: the head reads token_embd


def write_q8_0_gguf(source: Path, target: Path) -> Path:
    """SmolLM2's weights as a Q8_0 GGUF (metadata copied; 2-D tensors re-quantized to Q8_0
    from the shipped values with the ``gguf`` package, norms f32): llama.cpp's int8 peer."""
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFReader, GGUFValueType, GGUFWriter
    from gguf.quants import dequantize, quantize

    if target.is_file():
        return target
    reader = GGUFReader(source)
    writer = GGUFWriter(str(target), reader.fields["general.architecture"].contents())
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue
        main = field.types[0]
        sub = field.types[-1] if main == GGUFValueType.ARRAY else None
        writer.add_key_value(name, field.contents(), main, sub_type=sub)
    for tensor in reader.tensors:
        shape = tuple(int(d) for d in reversed(tensor.shape))
        array = np.asarray(dequantize(tensor.data, tensor.tensor_type), dtype=np.float32)
        array = array.reshape(shape)
        if array.ndim == 2:
            q8 = quantize(array, GGMLQuantizationType.Q8_0)
            writer.add_tensor(tensor.name, q8, raw_dtype=GGMLQuantizationType.Q8_0)
        else:
            writer.add_tensor(tensor.name, array)
    target.parent.mkdir(parents=True, exist_ok=True)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return target


def engine_for(model: nn.Module, tokenizer: object) -> LLMEngine:
    config = EngineConfig(max_model_len=512, kv_cache_megabytes=128)
    return LLMEngine(model, tokenizer, config, model_name="bench", eos_token_ids=[])


def our_decoder(engine: LLMEngine, tokens: int) -> Callable[[], tuple[float, float]]:
    """(tokens per wall second, per CPU-second) of one greedy request, in a worker thread as
    the server runs its engine."""
    params = SamplingParams(temperature=0.0, max_tokens=tokens, ignore_eos=True)
    engine.generate([PROMPT], SamplingParams(temperature=0.0, max_tokens=4))

    def decode() -> tuple[float, float]:
        out: list[tuple[float, float]] = []

        def run() -> None:
            wall, cpu = time.perf_counter(), time.process_time()
            engine.generate([PROMPT], params)
            out.append((time.perf_counter() - wall, time.process_time() - cpu))

        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
        return tokens / out[0][0], tokens / out[0][1]

    return decode


def llama_decoder(path: Path, threads: int, tokens: int) -> Callable[[], tuple[float, float]]:
    import bench.serving as serving

    serving.DECODE_TOKENS = tokens
    serving.QUESTION = PROMPT
    wall_decode = llama_cpp_decoder(path, threads)

    def decode() -> tuple[float, float]:
        cpu = time.process_time()
        rate = wall_decode()
        return rate, tokens / (time.process_time() - cpu)

    return decode


def concurrent_rate(engine: LLMEngine, streams: int, tokens: int) -> float:
    params = SamplingParams(temperature=0.0, max_tokens=tokens, ignore_eos=True)
    prompts = [f"{PROMPT} ({i})" for i in range(streams)]
    start = time.perf_counter()
    engine.generate(prompts, params)
    return streams * tokens / (time.perf_counter() - start)


def variants(base_dtype: str = "bfloat16") -> dict[str, tuple[nn.Module, object]]:
    shipped = packaged_gguf("smollm2-135m")
    out: dict[str, tuple[nn.Module, object]] = {}
    for name in ("bf16", "int8", "int4"):
        model, tokenizer = load_pretrained("smollm2-135m", dtype=base_dtype)
        if name != "bf16":
            quantize_model(model, QuantSpec.named(name))
        out[name] = (model, tokenizer)
    out["gguf"] = (from_gguf(shipped), out["bf16"][1])
    return out


def trained_quality(folder: Path, rows: int) -> dict[str, float]:
    """Held-out perplexity of a full-precision checkpoint and its quantized variants."""
    from scalable_ai.model.load.safetensors import load_checkpoint
    from scalable_ai.model.tokenizer import Tokenizer

    tokenizer = Tokenizer.load(folder)
    held = corpus_rows(tokenizer, "held_out", rows, 256)
    calibration = corpus_rows(tokenizer, "calibration", 32, 256)
    specs = {
        "bf16": None,
        "int8": QuantSpec.named("int8"),
        "int4-g32": QuantSpec(bits=4, group_size=32, symmetric=False),
        "int4-g32-awq": QuantSpec(bits=4, group_size=32, symmetric=False, method="awq"),
        "int4-g32-gptq": QuantSpec(bits=4, group_size=32, symmetric=False, method="gptq"),
        "int4-g64": QuantSpec(bits=4, group_size=64, symmetric=True),
        "int4-g64-awq": QuantSpec(bits=4, group_size=64, symmetric=True, method="awq"),
        "int4-g64-gptq": QuantSpec(bits=4, group_size=64, symmetric=True, method="gptq"),
    }
    result = {}
    for name, spec in specs.items():
        model = load_checkpoint(folder, dtype=torch.bfloat16)
        if spec is not None:
            quantize_model(model, spec, calibration)
        result[name] = perplexity(model, held)
        print(f"  trained {name}: perplexity {result[name]:.3f}", flush=True)
    return result


def chart(rows: dict[str, dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, row in rows.items():
        if "perplexity" in row:
            ax.scatter(row["single_tok_s"], row["perplexity"])
            ax.annotate(name, (row["single_tok_s"], row["perplexity"]), fontsize=8)
    ax.set_xlabel("single-stream decode, tokens/s")
    ax.set_ylabel("held-out perplexity (lower is better)")
    ax.set_title(f"SmolLM2-135M, quality vs speed ({cpu_model()})", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--streams", type=int, default=16)
    parser.add_argument("--ppl-rows", type=int, default=8)
    parser.add_argument("--trained", type=Path, default=None)
    parser.add_argument("--png", type=Path, default=Path("bench/efficiency.png"))
    parser.add_argument("--work", type=Path, default=Path("build/efficiency"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    print(f"machine: {cpu_model()}, load average {os.getloadavg()}", flush=True)
    with open_run("bench.efficiency", config=vars(args)) as run:
        bandwidth = measure(RooflineConfig(repeats=3))["read_gb_s"]
        print(f"read bandwidth {bandwidth:.1f} GB/s ({args.threads} threads)", flush=True)
        models = variants()
        held = corpus_rows(models["bf16"][1], "held_out", args.ppl_rows, 256)
        rows: dict[str, dict[str, float]] = {}
        decoders = {}
        for name, (model, tokenizer) in models.items():
            engine = engine_for(model, tokenizer)
            rows[name] = {
                "bytes_per_step": step_bytes(model),
                "perplexity": perplexity(model, held),
                f"concurrent{args.streams}_tok_s": concurrent_rate(engine, args.streams, 64),
            }
            decoders[name] = our_decoder(engine, args.tokens)
            print(f"  {name}: {engine.runner.path}, {rows[name]}", flush=True)
        try:
            if importlib.util.find_spec("llama_cpp") is None:
                raise ImportError("llama_cpp is not installed (FACTS.md: how to build it)")
            shipped = packaged_gguf("smollm2-135m")
            peers = {"llama.cpp Q8_0": write_q8_0_gguf(shipped, args.work / "q8_0.gguf")}
            peers["llama.cpp Q4_1"] = shipped
            for name, path in peers.items():
                decoders[name] = llama_decoder(path, args.threads, args.tokens)
                rows[name] = {"bytes_per_step": gguf_bytes(path)}
        except ImportError as error:
            print(f"llama.cpp not measured: {error}")
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in decoders}
        for _ in range(args.rounds):
            for name, decode in decoders.items():
                samples[name].append(decode())
        for name, values in samples.items():
            wall = statistics.median(v[0] for v in values)
            rows[name]["single_tok_s"] = wall
            rows[name]["single_tok_per_cpu_s"] = statistics.median(v[1] for v in values)
            rows[name]["bandwidth_floor_fraction"] = (
                rows[name]["bytes_per_step"] * wall / 1e9 / bandwidth
            )
        for ours, peer in LLAMA_PEERS.items():
            if f"llama.cpp {peer}" in rows:
                rows[ours][f"vs_llama_cpp_{peer}"] = (
                    rows[ours]["single_tok_s"] / rows[f"llama.cpp {peer}"]["single_tok_s"]
                )
        print(
            f"\n{'variant':16} {'tok/s 1':>8} {'tok/s/cpu':>9} {'floor %':>8} {'16 conc':>8} {'ppl':>8}  ratio"
        )
        for name, row in rows.items():
            ratio = next((f"{k}={v:.2f}" for k, v in row.items() if k.startswith("vs_")), "")
            print(
                f"{name:16} {row['single_tok_s']:8.1f} {row['single_tok_per_cpu_s']:9.1f} "
                f"{100 * row['bandwidth_floor_fraction']:7.1f}% "
                f"{row.get(f'concurrent{args.streams}_tok_s', float('nan')):8.1f} "
                f"{row.get('perplexity', float('nan')):8.3f}  {ratio}"
            )
        if args.trained:
            rows["trained"] = trained_quality(args.trained, args.ppl_rows)
        chart({k: v for k, v in rows.items() if k != "trained"}, args.png)
        run.summary(
            load_average=os.getloadavg()[0],
            read_gb_s=bandwidth,
            **{f"{name}.{key}": value for name, row in rows.items() for key, value in row.items()},
        )
        print(f"chart: {args.png}; load average now {os.getloadavg()}")


if __name__ == "__main__":
    main()
