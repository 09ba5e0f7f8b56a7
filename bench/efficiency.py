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
- 16 concurrent streams, 64 greedy tokens each, prefill included: ours through continuous
  batching, llama.cpp through its low-level batch API the way its ``batched`` example does
  (one ``llama_decode`` per step over every sequence, a sequence id per stream; see
  :func:`llama_cpp_concurrent`), the Python wrapper having no batched generate;
- held-out perplexity through the same forward (``infer/perplexity.py``; llama.cpp's Q4_1
  file holds the same codes as our ``gguf`` variant).

A second table measures quality alone on a full-precision model trained by ``sai speedrun``
(``--trained CHECKPOINT``): bf16 vs int8 and int4 with RTN, AWQ and GPTQ. A PNG plots
perplexity against single-stream speed. Results go to a run (``bench.efficiency``).

Run: ``PYTHONPATH=src:. python bench/efficiency.py [--trained DIR] [--rounds 3]``; llama.cpp
is measured when ``llama_cpp`` imports: ``make bench-llama`` builds and installs it (with AMX
off on Intel Xeons, where the registry's wheel and a default build crash; docs/deployment.md).
Its peers are the F16 and Q8_0 files written here with the ``gguf`` package from the shipped
weights, and the shipped Q4_1 file itself.
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
from bench.serving import llama_cpp_decoder, write_f16_gguf
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
#: our variant -> llama.cpp's file at the matching precision (bf16 has no BF16 peer worth
#: naming on CPU: llama.cpp's F16 file is what FACTS.md and bench/serving.py compare with).
LLAMA_PEERS = {"bf16": "F16", "int8": "Q8_0", "int4": "Q4_1", "gguf": "Q4_1"}
#: The issue's targets: single-stream ratios against llama.cpp, and the floor fraction.
TARGET_RATIO = {"int8": 1.2, "int4": 1.2}
TARGET_FLOOR = 0.6


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


def llama_cpp_concurrent(
    path: Path, threads: int, streams: int, tokens: int
) -> Callable[[], tuple[float, float]]:
    """(tokens per wall second, per CPU-second) of ``streams`` greedy sequences decoded
    together by llama.cpp: one prefill batch holding every prompt (each under its own sequence
    id), then one ``llama_decode`` per step with one token per sequence, argmax on the logits
    of each row: llama.cpp's own ``examples/batched`` scheme through the ctypes API."""
    import llama_cpp as lc
    import numpy as np
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_threads=threads, n_ctx=512, verbose=False)
    prompts = [llm.tokenize(f"{PROMPT} ({i})".encode()) for i in range(streams)]
    per_seq = 256 * -(-(max(map(len, prompts)) + tokens + 8) // 256)
    params = lc.llama_context_default_params()
    params.n_ctx = streams * per_seq  # split evenly between the sequences
    params.n_batch = params.n_ubatch = max(sum(map(len, prompts)), streams)
    params.n_seq_max = streams
    params.n_threads = params.n_threads_batch = threads
    ctx = lc.llama_init_from_model(llm._model.model, params)
    if ctx is None:
        raise RuntimeError("llama.cpp refused a batched context")
    batch = lc.llama_batch_init(params.n_batch, 0, 1)
    vocab = llm.n_vocab()

    def put(row: int, token: int, pos: int, seq: int, logits: bool) -> None:
        batch.token[row], batch.pos[row] = token, pos
        batch.n_seq_id[row], batch.seq_id[row][0], batch.logits[row] = 1, seq, logits

    def decode(keep: Llama = llm) -> tuple[float, float]:  # ``keep``: the model outlives ctx
        lc.llama_memory_clear(lc.llama_get_memory(ctx), True)
        wall, cpu = time.perf_counter(), time.process_time()
        rows, row = [], 0
        for seq, prompt in enumerate(prompts):
            for pos, token in enumerate(prompt):
                put(row, token, pos, seq, pos == len(prompt) - 1)
                row += 1
            rows.append(row - 1)
        batch.n_tokens = row
        positions = [len(p) for p in prompts]
        for step in range(tokens):
            if lc.llama_decode(ctx, batch) != 0:
                raise RuntimeError("llama_decode failed")
            if step == tokens - 1:
                break
            for seq, r in enumerate(rows):
                logits = np.ctypeslib.as_array(lc.llama_get_logits_ith(ctx, r), shape=(vocab,))
                put(seq, int(logits.argmax()), positions[seq], seq, True)
                positions[seq] += 1
            rows = list(range(streams))
            batch.n_tokens = streams
        done = streams * tokens
        return done / (time.perf_counter() - wall), done / (time.process_time() - cpu)

    return decode


def our_concurrent(
    engine: LLMEngine, streams: int, tokens: int
) -> Callable[[], tuple[float, float]]:
    """(tokens per wall second, per CPU-second) of ``streams`` greedy requests submitted at
    once to the engine (continuous batching), in a worker thread as the server runs it."""
    params = SamplingParams(temperature=0.0, max_tokens=tokens, ignore_eos=True)
    prompts = [f"{PROMPT} ({i})" for i in range(streams)]

    def decode() -> tuple[float, float]:
        out: list[tuple[float, float]] = []

        def run() -> None:
            wall, cpu = time.perf_counter(), time.process_time()
            engine.generate(prompts, params)
            out.append((time.perf_counter() - wall, time.process_time() - cpu))

        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
        return streams * tokens / out[0][0], streams * tokens / out[0][1]

    return decode


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
        peer = name.startswith("llama.cpp")
        style = {"facecolors": "none", "edgecolors": "tab:red"} if peer else {"c": "tab:blue"}
        for key, marker in (("single_tok_s", "o"), ("concurrent_tok_s", "s")):
            ax.scatter(row[key], row["perplexity"], marker=marker, **style)
            ax.annotate(name, (row[key], row["perplexity"]), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("decode tokens/s (circles: one stream, squares: 16 concurrent; log)")
    ax.set_ylabel("held-out perplexity, our forward (lower is better)")
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
        single, concurrent = {}, {}
        for name, (model, tokenizer) in models.items():
            engine = engine_for(model, tokenizer)
            rows[name] = {
                "bytes_per_step": step_bytes(model),
                "perplexity": perplexity(model, held),
            }
            single[name] = our_decoder(engine, args.tokens)
            concurrent[name] = our_concurrent(engine, args.streams, 64)
            print(f"  {name}: {engine.runner.path}, {rows[name]}", flush=True)
        try:
            if importlib.util.find_spec("llama_cpp") is None:
                raise ImportError("llama_cpp is not installed (`make bench-llama` builds it)")
            shipped = packaged_gguf("smollm2-135m")
            peers = {
                "llama.cpp F16": (write_f16_gguf(shipped, args.work / "f16.gguf"), "bf16"),
                "llama.cpp Q8_0": (write_q8_0_gguf(shipped, args.work / "q8_0.gguf"), None),
                "llama.cpp Q4_1": (shipped, "gguf"),  # the very codes of our gguf variant
            }
            for name, (path, same) in peers.items():
                # Quality of the peer's weights through our forward (F16: in our bf16).
                ppl = rows[same]["perplexity"] if same else perplexity(from_gguf(path), held)
                rows[name] = {"bytes_per_step": gguf_bytes(path), "perplexity": ppl}
                single[name] = llama_decoder(path, args.threads, args.tokens)
                concurrent[name] = llama_cpp_concurrent(path, args.threads, args.streams, 64)
        except ImportError as error:
            print(f"llama.cpp not measured: {error}")
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in single}
        batched: dict[str, list[tuple[float, float]]] = {name: [] for name in concurrent}
        for round_ in range(args.rounds):  # alternating: every contender sees the same load
            for name in single:
                samples[name].append(single[name]())
                batched[name].append(concurrent[name]())
            print(f"  round {round_ + 1}/{args.rounds}, load {os.getloadavg()[0]:.1f}", flush=True)
        # The floor is the best read bandwidth seen (start or end), so fractions are not
        # flattered by a bandwidth reading taken at a busy moment.
        bandwidth = max(bandwidth, measure(RooflineConfig(repeats=3))["read_gb_s"])
        for name in single:
            wall = statistics.median(v[0] for v in samples[name])
            rows[name]["single_tok_s"] = wall
            rows[name]["single_tok_per_cpu_s"] = statistics.median(v[1] for v in samples[name])
            rows[name]["concurrent_tok_s"] = statistics.median(v[0] for v in batched[name])
            rows[name]["concurrent_tok_per_cpu_s"] = statistics.median(v[1] for v in batched[name])
            rows[name]["bandwidth_floor_fraction"] = (
                rows[name]["bytes_per_step"] * wall / 1e9 / bandwidth
            )
        for ours, peer in LLAMA_PEERS.items():
            if (other := rows.get(f"llama.cpp {peer}")) is not None:
                for key in ("single_tok_s", "single_tok_per_cpu_s", "concurrent_tok_s"):
                    rows[ours][f"{key}_vs_llama_cpp"] = rows[ours][key] / other[key]
        print(f"\nread bandwidth {bandwidth:.1f} GB/s; {args.streams} concurrent streams")
        print(
            f"{'variant':15} {'MB/step':>7} {'tok/s 1':>8} {'tok/cpu-s':>9} {'floor':>6} "
            f"{'conc':>7} {'ppl':>7}  {'ratios ours/llama.cpp (1, 1 per cpu-s, conc)'}"
        )
        for name, row in rows.items():
            ratio = ""
            if "single_tok_s_vs_llama_cpp" in row:
                ratio = (
                    f"{row['single_tok_s_vs_llama_cpp']:.2f}x "
                    f"{row['single_tok_per_cpu_s_vs_llama_cpp']:.2f}x "
                    f"{row['concurrent_tok_s_vs_llama_cpp']:.2f}x vs {LLAMA_PEERS[name]}"
                )
            print(
                f"{name:15} {row['bytes_per_step'] / 1e6:7.1f} {row['single_tok_s']:8.1f} "
                f"{row['single_tok_per_cpu_s']:9.1f} {100 * row['bandwidth_floor_fraction']:5.1f}% "
                f"{row['concurrent_tok_s']:7.1f} {row['perplexity']:7.3f}  {ratio}"
            )
        for name, target in TARGET_RATIO.items():
            got = rows[name].get("single_tok_s_vs_llama_cpp")
            if got is not None:
                verdict = "met" if got >= target else "missed"
                print(
                    f"target {name} >= {target}x llama.cpp {LLAMA_PEERS[name]}: {got:.2f}x, {verdict}"
                )
        for name in models:
            got = rows[name]["bandwidth_floor_fraction"]
            verdict = "met" if got >= TARGET_FLOOR else "missed"
            print(f"target {name} >= {TARGET_FLOOR:.0%} of its floor: {got:.0%}, {verdict}")
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
