"""Serving benchmark: our engine against two peers on SmolLM2-135M, same machine, same run.

Peers
- (a) Hugging Face ``transformers`` ``generate`` with *static* batching behind the simplest
  server (written below): requests that arrive while a batch runs wait for the next batch of
  up to 16, left-padded, every member generating exactly ``max_tokens``. Run in bf16 and,
  with ``--f32``, in f32, so each comparison is at the same dtype.
- (b) llama.cpp through ``llama-cpp-python`` (optional: ``pip install
  llama-cpp-python==0.3.36``, a ~5 min source build), single-stream decode, on the shipped
  Q4_1 file and on an F16 GGUF of the same weights written here with the ``gguf`` package.

Measured: output tokens/s, TTFT and TPOT p50/p99 at fixed concurrency through the same load
generator (``scalable_ai.infer.loadgen``) for every HTTP server; single-stream decode
tokens/s in-process for our engine and llama.cpp (128 greedy tokens, short prompt, EOS
ignored). Prints the ratios the issue's targets are stated in, logs everything as one run
(``bench.serving``) with the latency-throughput PNG as its artifact.

    python bench/serving.py            # bf16 comparison + llama.cpp when installed
    python bench/serving.py --f32      # also the f32 pair
    python bench/serving.py --peer transformers --dtype bfloat16 --port 8123   # peer only
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from scalable_ai.infer.load_report import LoadReport, format_report, plot_latency_throughput
from scalable_ai.infer.loadgen import LoadSpec, run_load

DECODE_TOKENS = 128
QUESTION = "Write a long story about a cat who travels the world."


def machine() -> str:
    """The CPU model and core count every figure of this benchmark is labelled with."""
    from scalable_ai.infer.forward_paths import cpu_model

    return f"{cpu_model()}, {os.cpu_count()} cpus"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def gguf_path() -> Path:
    from scalable_ai.model.registry import packaged_gguf

    return packaged_gguf("smollm2-135m")


# -- peer (a): transformers static batching behind the simplest server -------------------------
def serve_transformers(port: int, dtype_name: str, max_batch: int, threads: int) -> None:
    """A minimal ``/v1/completions`` (non-streaming) over ``generate`` with static batches."""
    import torch
    import uvicorn
    from fastapi import FastAPI
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)  # as `sai serve` does, so both servers run alike
    path = gguf_path()
    dtype = {"bfloat16": torch.bfloat16, "float32": torch.float32}[dtype_name]
    model = AutoModelForCausalLM.from_pretrained(
        path.parent,
        gguf_file=path.name,
        dtype=dtype,
        quantization_config=GgufConfig(dequantize=True),
    ).eval()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    app = FastAPI()
    pending: asyncio.Queue = asyncio.Queue()

    def run_batch(prompts: list[str], max_tokens: int) -> list[tuple[str, int]]:
        batch = tokenizer(prompts, return_tensors="pt", padding=True)
        with torch.inference_mode():
            out = model.generate(
                **batch,
                max_new_tokens=max_tokens,
                min_new_tokens=max_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        new = out[:, batch["input_ids"].shape[1] :]
        return [(tokenizer.decode(row, skip_special_tokens=True), int(row.numel())) for row in new]

    async def batcher() -> None:
        while True:
            first = await pending.get()
            batch = [first]
            await asyncio.sleep(0.05)  # let the rest of a wave of requests arrive
            while not pending.empty() and len(batch) < max_batch:
                batch.append(pending.get_nowait())
            max_tokens = max(item[1] for item in batch)
            results = await asyncio.to_thread(run_batch, [item[0] for item in batch], max_tokens)
            for item, result in zip(batch, results, strict=True):
                item[2].set_result(result)

    tasks: list[asyncio.Task] = []

    @app.on_event("startup")
    async def start() -> None:
        tasks.append(asyncio.create_task(batcher()))

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.post("/v1/completions")
    async def completions(body: dict) -> dict:
        future = asyncio.get_running_loop().create_future()
        await pending.put((body["prompt"], int(body.get("max_tokens", 16)), future))
        text, count = await future
        return {
            "choices": [{"index": 0, "text": text, "finish_reason": "length"}],
            "usage": {"completion_tokens": count},
        }

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


# -- peer (b): llama.cpp single-stream decode --------------------------------------------------
def write_f16_gguf(source: Path, target: Path) -> Path:
    """The same weights as an F16 GGUF: metadata copied, 2-D tensors f16, the rest f32."""
    import numpy as np
    from gguf import GGUFReader, GGUFValueType, GGUFWriter
    from gguf.quants import dequantize

    if target.is_file():
        return target
    reader = GGUFReader(source)
    arch = reader.fields["general.architecture"].contents()
    writer = GGUFWriter(str(target), arch)
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
        writer.add_tensor(tensor.name, array.astype(np.float16) if array.ndim == 2 else array)
    target.parent.mkdir(parents=True, exist_ok=True)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return target


def llama_cpp_decoder(path: Path, threads: int) -> Callable[[], float]:
    """Greedy single-stream tokens/s over 128 new tokens (short prefill included)."""
    from llama_cpp import Llama

    llm = Llama(model_path=str(path), n_threads=threads, n_ctx=512, verbose=False)
    tokens = llm.tokenize(QUESTION.encode())

    def decode() -> float:
        llm.reset()
        start, count = time.perf_counter(), 0
        for _ in llm.generate(tokens, top_k=1, temp=0.0):
            count += 1
            if count == DECODE_TOKENS:
                break
        return count / (time.perf_counter() - start)

    return decode


def our_decoder(dtype: str) -> Callable[[], float]:
    """The same measurement for our engine in-process (one request, EOS ignored)."""
    from scalable_ai.infer.engine import load_engine
    from scalable_ai.infer.sampling import SamplingParams

    engine = load_engine("smollm2-135m", dtype=dtype)
    params = SamplingParams(temperature=0.0, max_tokens=DECODE_TOKENS, ignore_eos=True)
    engine.generate([QUESTION], SamplingParams(temperature=0.0, max_tokens=8))  # warm up

    def decode() -> float:
        elapsed: list[float] = []

        def run() -> None:
            start = time.perf_counter()
            engine.generate([QUESTION], params)
            elapsed.append(time.perf_counter() - start)

        # In a worker thread, as the server's engine runs (torch's OpenMP kernels called
        # from the main thread of a busy machine were seen ~10x slower, 2026-11-26).
        worker = threading.Thread(target=run)
        worker.start()
        worker.join()
        return DECODE_TOKENS / elapsed[0]

    return decode


def alternating_medians(decoders: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """Each decoder once per round, in turn, ``rounds`` times; the median of each: the
    contenders share whatever else the machine is doing."""
    samples: dict[str, list[float]] = {name: [] for name in decoders}
    for _ in range(rounds):
        for name, decode in decoders.items():
            samples[name].append(decode())
    return {name: statistics.median(values) for name, values in samples.items()}


# -- work per CPU-second: a comparison that survives a busy machine ---------------------------
def cpu_seconds_comparison(batch: int, new_tokens: int) -> dict[str, float]:
    """Output tokens per CPU-second, one thread each, in-process: ours (continuous batching,
    ``batch`` requests at once) vs transformers ``generate`` (one static batch), and single
    stream ours vs llama.cpp. On a shared 2-core machine wall-clock rates swing with other
    people's load; the CPU time a process consumes for the same work does much less."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    from scalable_ai.infer.engine import load_engine
    from scalable_ai.infer.sampling import SamplingParams

    torch.set_num_threads(1)
    torch.set_flush_denormal(True)
    prompts = [f"{QUESTION} Story number {i}." for i in range(batch)]
    out: dict[str, float] = {}
    engine = load_engine("smollm2-135m", dtype="bfloat16")
    params = SamplingParams(temperature=0.0, max_tokens=new_tokens, ignore_eos=True)
    engine.generate(prompts[:2], SamplingParams(temperature=0.0, max_tokens=4))
    for label, group in (("batch", prompts), ("single", prompts[:1])):
        start = time.process_time()
        engine.generate(group, params)
        out[f"ours_bf16_{label}_tok_per_cpu_s"] = (
            len(group) * new_tokens / (time.process_time() - start)
        )
    path = gguf_path()
    model = AutoModelForCausalLM.from_pretrained(
        path.parent,
        gguf_file=path.name,
        dtype=torch.bfloat16,
        quantization_config=GgufConfig(dequantize=True),
    ).eval()
    tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    tokenizer.padding_side = "left"
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    for label, group in (("batch", prompts), ("single", prompts[:1])):
        encoded = tokenizer(group, return_tensors="pt", padding=True)
        start = time.process_time()
        with torch.inference_mode():
            model.generate(
                **encoded,
                max_new_tokens=new_tokens,
                min_new_tokens=new_tokens,
                do_sample=False,
                pad_token_id=tokenizer.pad_token_id,
            )
        out[f"transformers_bf16_{label}_tok_per_cpu_s"] = (
            len(group) * new_tokens / (time.process_time() - start)
        )
    if llama_cpp_problem() is None:
        from llama_cpp import Llama

        f16 = write_f16_gguf(path, _f16_path())
        for name, file in (("q4_1", path), ("f16", f16)):
            llm = Llama(model_path=str(file), n_threads=1, n_ctx=512, verbose=False)
            tokens = llm.tokenize(QUESTION.encode())
            start, count = time.process_time(), 0
            for _ in llm.generate(tokens, top_k=1, temp=0.0):
                count += 1
                if count == new_tokens:
                    break
            out[f"llama_cpp_{name}_single_tok_per_cpu_s"] = count / (time.process_time() - start)
    return out


def _f16_path() -> Path:
    from scalable_ai.settings import get_settings

    return get_settings().data_dir / "bench" / "SmolLM2-135M-Instruct.F16.gguf"


# -- driving servers ---------------------------------------------------------------------------
def start_server(kind: str, dtype: str, threads: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    if kind == "ours":
        command = [
            sys.executable,
            "-m",
            "scalable_ai.cli",
            "serve",
            "smollm2-135m",
            "--port",
            str(port),
            "--dtype",
            dtype,
            "--threads",
            str(threads),
        ]
    else:
        command = [
            sys.executable,
            __file__,
            "--peer",
            "transformers",
            "--dtype",
            dtype,
            "--port",
            str(port),
            "--threads",
            str(threads),
        ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{kind} server died: {process.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, f"{url}/v1"
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"{kind} server did not start")


def sweep(dtype: str, args: argparse.Namespace) -> dict[str, list[LoadReport]]:
    """Both servers up at once, measured in turn at each concurrency (ours, then the peer):
    on a shared machine the two numbers of a pair then see the same background load."""
    kinds = ("ours", "transformers")
    labels = {kind: f"{kind} {dtype}" for kind in kinds}
    servers: dict[str, tuple[subprocess.Popen, str]] = {}
    curves: dict[str, list[LoadReport]] = {labels[kind]: [] for kind in kinds}
    try:
        for kind in kinds:
            servers[kind] = start_server(kind, dtype, args.threads)
            warm = LoadSpec(
                base_url=servers[kind][1],
                num_requests=2,
                prompt_tokens=8,
                output_tokens=4,
                stream=False,
            )
            asyncio.run(run_load(warm, concurrency=2))
        for concurrency in args.concurrency:
            for kind in kinds:
                spec = LoadSpec(
                    base_url=servers[kind][1],
                    num_requests=max(2 * concurrency, 4),
                    prompt_tokens=args.prompt_tokens,
                    output_tokens=args.output_tokens,
                    stream=kind == "ours",
                    seed=concurrency,
                )
                report = asyncio.run(run_load(spec, concurrency=concurrency))
                name = "ours" if kind == "ours" else "transformers static"
                print(format_report(f"{name} {dtype}", report), flush=True)
                curves[labels[kind]].append(report)
        return curves
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--peer", choices=["transformers"], help="run only a peer server")
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--dtype", default="bfloat16")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--f32", action="store_true", help="also compare in float32")
    parser.add_argument(
        "--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 4, 16]
    )
    parser.add_argument("--prompt-tokens", type=int, default=64)
    parser.add_argument("--output-tokens", type=int, default=64)
    parser.add_argument("--no-llama-cpp", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="single-stream rounds per peer")
    parser.add_argument(
        "--single-stream-only",
        action="store_true",
        help="only single-stream decode: ours vs llama.cpp",
    )
    parser.add_argument(
        "--cpu-seconds-only",
        action="store_true",
        help="only the tokens-per-CPU-second comparison (1 thread each)",
    )
    args = parser.parse_args()
    if args.peer:
        serve_transformers(args.port, args.dtype, max_batch=16, threads=args.threads)
        return

    import torch

    from scalable_ai.runs import open_run

    torch.set_num_threads(args.threads)
    dtypes = ["bfloat16", "float32"] if args.f32 else ["bfloat16"]
    print(f"== machine: {machine()}")
    with open_run("bench.serving", config={**vars(args), "machine": machine()}, seed=0) as run:
        summary: dict[str, float] = {}
        cpu = {}
        if not args.single_stream_only:
            print(f"== output tokens per CPU-second, 1 thread, 16 x {args.output_tokens}")
            cpu = cpu_seconds_comparison(16, args.output_tokens)
        for key, value in cpu.items():
            print(f"{key:<40} {value:7.1f}")
        if cpu:
            ratio = (
                cpu["ours_bf16_batch_tok_per_cpu_s"] / cpu["transformers_bf16_batch_tok_per_cpu_s"]
            )
            print(f"ours/transformers, 16 at once, bf16, per CPU-second: {ratio:.2f}x")
            cpu["ratio_cpu_s_vs_transformers_bf16_batch16"] = ratio
        if "llama_cpp_f16_single_tok_per_cpu_s" in cpu:
            for name in ("f16", "q4_1"):
                ratio = (
                    cpu["ours_bf16_single_tok_per_cpu_s"]
                    / cpu[f"llama_cpp_{name}_single_tok_per_cpu_s"]
                )
                cpu[f"ratio_cpu_s_single_vs_llama_cpp_{name}"] = ratio
                print(
                    f"ours bf16 / llama.cpp {name.upper()}, single stream, per CPU-second: "
                    f"{ratio:.2f}x"
                )
        summary.update(cpu)
        if args.cpu_seconds_only:
            run.summary(**summary)
            return
        torch.set_num_threads(args.threads)
        print(
            f"== single-stream decode, {DECODE_TOKENS} tokens, {args.threads} threads, "
            f"median of {args.rounds} alternating rounds"
        )
        decoders = {f"ours_{dtype}_decode_tok_s": our_decoder(dtype) for dtype in dtypes}
        problem = "--no-llama-cpp" if args.no_llama_cpp else llama_cpp_problem()
        have_llama = problem is None
        if have_llama:
            f16_path = write_f16_gguf(gguf_path(), _f16_path())
            decoders["llama_cpp_q4_1_decode_tok_s"] = llama_cpp_decoder(gguf_path(), args.threads)
            decoders["llama_cpp_f16_decode_tok_s"] = llama_cpp_decoder(f16_path, args.threads)
        for name, rate in alternating_medians(decoders, args.rounds).items():
            summary[name] = rate
            print(f"{name:<32} {rate:7.1f} tok/s")
        if not have_llama:
            print(f"llama.cpp peer (b) skipped: {problem}")
        if have_llama:
            for name in ("f16", "q4_1"):
                ratio = (
                    summary["ours_bfloat16_decode_tok_s"]
                    / summary[f"llama_cpp_{name}_decode_tok_s"]
                )
                summary[f"ratio_decode_bf16_vs_llama_cpp_{name}"] = ratio
                print(f"single stream: ours bf16 / llama.cpp {name.upper()} = {ratio:.2f}x")
        if args.single_stream_only:
            run.summary(**summary)
            return
        curves: dict[str, list[LoadReport]] = {}
        print(f"== serving, prompt ~{args.prompt_tokens} tokens, {args.output_tokens} output")
        for dtype in dtypes:
            pair = sweep(dtype, args)
            curves.update(pair)
            for label in pair:
                for step, report in enumerate(curves[label]):
                    run.log(
                        step,
                        **{
                            f"{label.replace(' ', '_')}_{k}": v
                            for k, v in report.__dict__.items()
                            if isinstance(v, float | int)
                        },
                    )
        plot_latency_throughput(curves, run.artifact("latency_throughput.png"))
        print("== ratios (targets: >= 3x transformers at 16 concurrent, >= 0.8x llama.cpp)")
        top = max(args.concurrency)
        for dtype in dtypes:
            ours = curves[f"ours {dtype}"][-1].output_tokens_per_s
            peer = curves[f"transformers {dtype}"][-1].output_tokens_per_s
            summary[f"ratio_vs_transformers_{dtype}_c{top}"] = ours / peer
            print(
                f"{dtype}: ours/transformers at {top} concurrent = {ours:.0f}/{peer:.0f} = "
                f"{ours / peer:.2f}x"
            )
        run.summary(**summary, machine=machine(), threads=args.threads)
        print(f"run: {run.path}")


@functools.cache
def llama_cpp_problem() -> str | None:
    """Why the llama.cpp peer cannot run here, or None when it can. It is tried first in a
    child process: the registry's llama-cpp-python wheel segfaults in ``decode`` on an Intel
    Xeon with AMX (FACTS.md), and a crashed peer must cost its rows, not the whole run."""
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return (
            "llama-cpp-python is not installed (pip install llama-cpp-python==0.3.36, a ~5 min "
            "source build; see FACTS.md for the flags that work on Intel AMX)"
        )
    probe = (
        "import sys; from llama_cpp import Llama; "
        "llm = Llama(model_path=sys.argv[1], n_ctx=64, n_threads=1, verbose=False); "
        "tokens = llm.tokenize(b'Hello'); "
        "[t for _, t in zip(range(2), llm.generate(tokens, top_k=1, temp=0.0))]"
    )
    try:
        child = subprocess.run(
            [sys.executable, "-c", probe, str(gguf_path())],
            capture_output=True,
            text=True,
            timeout=300,
        )
    except subprocess.TimeoutExpired:
        return "llama-cpp-python did not finish two tokens in 300 s"
    if child.returncode < 0:
        name = signal.Signals(-child.returncode).name
        return f"llama-cpp-python crashed with {name} decoding two tokens on this CPU"
    if child.returncode != 0:
        last = (child.stderr.strip().splitlines() or ["no message"])[-1]
        return f"llama-cpp-python failed: {last}"
    return None


if __name__ == "__main__":
    main()
