"""Decode on a GPU: our engine's tokens/s against transformers ``generate`` and the roofline.

One script for one call on a lent GPU machine (``device`` tool; nothing there can be
downloaded). It runs, in order, and prints a table last:

1. the ceilings: device-to-device copy bandwidth (bytes read + written) and a bf16 matrix
   product's rate, measured here, not taken from a datasheet;
2. correctness: the engine's logits at every step (prefill and CUDA-graph decode) against the
   model with no cache at all, rerun over the whole sequence, in f32 and bf16 (relative error
   ``|out - ref| / |ref|`` per step); and graph replay against the eager step, token for token;
3. decode speed: B requests of a 64-token prompt generate 256 greedy tokens (EOS ignored);
   tokens/s is B over the median decode-step time (steady state) and output tokens over the
   whole run (prefill included). With graphs and without.
4. the peer: Hugging Face ``transformers`` ``generate`` (static batch, its default eager
   attention, greedy, exactly 256 new tokens) on a ``LlamaForCausalLM`` of the same shapes;
5. the roofline per batch: the fewest bytes a decode step must move (every weight once, the
   LM head included, plus each sequence's cached keys and values and the new ones) over the
   measured copy bandwidth, and the matrix work over the measured matrix rate.

The model has SmolLM2-135M's shapes with random weights: the shipped GGUF (98 MB) is over the
device tool's 64 MiB transfer limit, and decode speed depends on the shapes, not the values.

    PYTHONPATH=src:. python bench/gpu_decode.py --out OUTDIR          # on the GPU machine
    python bench/gpu_decode.py --device cpu --quick                    # a smoke run here
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

from scalable_ai.infer.engine import EngineConfig, LLMEngine
from scalable_ai.infer.sampling import SamplingParams
from scalable_ai.model import ModelConfig, Transformer

SMOLLM2 = dict(
    name="smollm2-135m-shapes",
    vocab_size=49152,
    dim=576,
    n_layers=30,
    n_heads=9,
    n_kv_heads=3,
    ffn_hidden=1536,
    max_seq_len=8192,
    norm_eps=1e-5,
    rope_theta=100000.0,
    tie_embeddings=True,
)
PROMPT_TOKENS = 64


class IdTokenizer:
    """Token ids are the text: the bench feeds ids and never reads text.

    Each id's text ends with a space, so the text of a sequence is the concatenation of its
    tokens' texts and the engine decodes incrementally, as with the real byte-level BPE.
    (Session 3's H200 numbers were taken with ids joined by spaces, which made the engine
    re-decode every sequence's whole output each step: part of the host time at batch 256.)
    """

    decodes_by_concatenation = True

    def encode(self, text: str) -> list[int]:
        return [int(t) for t in text.split()]

    def decode(self, ids: list[int], skip_special_tokens: bool = False) -> str:
        return "".join(f"{i} " for i in ids)


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeats: int) -> float:
    """Median seconds of ``fn`` after one warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        sync(device)
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ceilings(device: torch.device, quick: bool) -> dict[str, float]:
    """Copy bandwidth (GB/s, read + written) and bf16 matrix rate (TFLOP/s), on random data."""
    n = (1 << 24) if quick else (1 << 30)  # 2 GiB of bf16 on a GPU
    src = torch.randn(n, device=device, dtype=torch.bfloat16)
    dst = torch.empty_like(src)
    seconds = timed(lambda: dst.copy_(src), device, 10)
    size = 512 if quick else 8192
    a = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    b = torch.randn(size, size, device=device, dtype=torch.bfloat16)
    matmul = timed(lambda: a @ b, device, 10)
    return {"copy_GBps": 2 * n * 2 / seconds / 1e9, "bf16_TFLOPs": 2 * size**3 / matmul / 1e12}


def build(device: torch.device, dtype: torch.dtype, quick: bool, seed: int = 0) -> Transformer:
    torch.manual_seed(seed)
    sizes = dict(SMOLLM2, n_layers=4) if quick else SMOLLM2
    return Transformer(ModelConfig(**sizes)).to(device=device, dtype=dtype).eval()


def engine_for(model: Transformer, graphs: bool, batch: int) -> LLMEngine:
    config = EngineConfig(
        max_model_len=1024,
        max_num_seqs=max(batch, 1),
        max_num_batched_tokens=8192,
        kv_cache_megabytes=4096,
        use_cuda_graphs=graphs,
    )
    return LLMEngine(model, IdTokenizer(), config, model_name="bench")


def prompts(count: int, vocab: int, seed: int, length: int = PROMPT_TOKENS) -> list[list[int]]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, vocab, (length,), generator=generator).tolist() for _ in range(count)]


@torch.inference_mode()
def check(device: torch.device, dtype: torch.dtype, quick: bool) -> dict[str, float]:
    """Worst per-step relative error of the engine's logits against the uncached model."""
    model = build(device, dtype, quick, seed=1)
    engine = engine_for(model, graphs=True, batch=8)
    recorded: list[tuple[list[list[int]], torch.Tensor]] = []
    execute = engine.runner.execute

    def recording(scheduled):
        logits = execute(scheduled)
        rows = [
            list(i.seq.token_ids[: i.seq.num_computed + i.num_new_tokens])
            for i in scheduled
            if i.samples
        ]
        recorded.append((rows, logits.float().clone()))
        return logits

    engine.runner.execute = recording
    lengths = [3, 17, 40, 64, 5, 33, 9, 50]
    batch = [p[:n] for p, n in zip(prompts(8, model.config.vocab_size, 7), lengths, strict=True)]
    engine.generate(batch, SamplingParams(temperature=0.0, max_tokens=24, ignore_eos=True))
    worst = 0.0
    for rows, logits in recorded:
        for row, got in zip(rows, logits, strict=True):
            ref = model(torch.tensor([row], device=device))[0, -1].double()
            worst = max(worst, float((got.double() - ref).norm() / ref.norm()))
    replays = engine.runner.graphs.num_replays if engine.runner.graphs else 0
    return {"max_rel_err": worst, "steps": len(recorded), "graph_replays": replays}


@torch.inference_mode()
def graph_vs_eager(device: torch.device, quick: bool) -> float:
    """Share of bf16 greedy tokens equal between graph replay and the eager step."""
    model = build(device, torch.bfloat16, quick, seed=2)
    batch = prompts(16, model.config.vocab_size, 3)
    params = SamplingParams(temperature=0.0, max_tokens=64, ignore_eos=True)
    graph = engine_for(model, True, 16).generate(batch, params)
    eager = engine_for(model, False, 16).generate(batch, params)
    pairs = [
        (a, b) for g, e in zip(graph, eager, strict=True) for a, b in zip(g[0], e[0], strict=True)
    ]
    return sum(a == b for a, b in pairs) / len(pairs)


def served(device: torch.device, quick: bool) -> dict[str, float]:
    """The server's arrangement: the engine in its own thread (``AsyncEngine``), 32 requests
    of different lengths at once, each streamed to the end; then ``swap_weights`` (graphs
    dropped and captured again) must give the same tokens for the same batch."""
    import asyncio

    from scalable_ai.infer.async_engine import AsyncEngine

    model = build(device, torch.bfloat16, quick, seed=4)
    engine = engine_for(model, graphs=True, batch=32)
    front = AsyncEngine(engine)
    batch = prompts(32, model.config.vocab_size, 9)
    lengths = [8 + 4 * i for i in range(32)]

    async def one(prompt: list[int], n: int) -> int:
        params = SamplingParams(temperature=0.0, max_tokens=n, ignore_eos=True)
        count = 0
        async for out in front.generate(prompt, params):
            count += sum(len(c.token_ids) for c in out.choices)
        return count

    async def run_all() -> list[int]:
        return await asyncio.gather(*(one(p, n) for p, n in zip(batch, lengths, strict=True)))

    counts = asyncio.run(run_all())
    front.shutdown()
    params = SamplingParams(temperature=0.0, max_tokens=32, ignore_eos=True)
    before = engine.generate(batch[:8], params)
    engine.swap_weights(model.state_dict())
    after = engine.generate(batch[:8], params)
    replays = engine.runner.graphs.num_replays if engine.runner.graphs else 0
    return {
        "all_complete": float(counts == lengths),
        "same_after_swap": float(before == after),
        "graph_replays": replays,
    }


@torch.inference_mode()
def ours(model: Transformer, batch: int, new_tokens: int, graphs: bool) -> dict[str, float]:
    """Decode tokens/s of the engine at a fixed batch (warm-up run first: graph capture)."""
    device = model.embed.weight.device
    engine = engine_for(model, graphs, batch)
    params = SamplingParams(temperature=0.0, max_tokens=new_tokens, ignore_eos=True)
    engine.generate(prompts(batch, model.config.vocab_size, 11), params)
    for p in prompts(batch, model.config.vocab_size, 12):
        engine.add_request(p, params)
    step_times, decode_times = [], []
    sync(device)
    start = time.perf_counter()
    while engine.has_unfinished_requests():
        before = time.perf_counter()
        decoding = not engine.scheduler.waiting and all(
            s.num_computed >= len(s.prompt_token_ids) for s in engine.scheduler.running
        )
        engine.step()
        took = time.perf_counter() - before
        step_times.append(took)
        if decoding:
            decode_times.append(took)
    total = time.perf_counter() - start
    step = statistics.median(decode_times)
    out = {
        "decode_tok_s": batch / step,
        "step_ms": step * 1e3,
        "e2e_tok_s": batch * new_tokens / total,
    }
    graphs = engine.runner.graphs
    if graphs is not None and graphs.graphs:  # the GPU's share of a step: replays alone
        key = max(graphs.graphs)
        out["replay_ms"] = timed(graphs.graphs[key][0].replay, device, 50) * 1e3
        out["graphs_captured"] = len(graphs.graphs)
    return out


@torch.inference_mode()
def transformers_peer(batch: int, new_tokens: int, device: torch.device, quick: bool) -> float:
    """Output tokens/s of ``generate`` (static batch) on a LlamaForCausalLM of the same shapes."""
    from transformers import LlamaConfig, LlamaForCausalLM

    s = dict(SMOLLM2, n_layers=4) if quick else SMOLLM2
    config = LlamaConfig(
        vocab_size=s["vocab_size"],
        hidden_size=s["dim"],
        intermediate_size=s["ffn_hidden"],
        num_hidden_layers=s["n_layers"],
        num_attention_heads=s["n_heads"],
        num_key_value_heads=s["n_kv_heads"],
        max_position_embeddings=s["max_seq_len"],
        rms_norm_eps=s["norm_eps"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).to(device=device, dtype=torch.bfloat16).eval()
    ids = torch.tensor(prompts(batch, s["vocab_size"], 12), device=device)
    kwargs = dict(
        max_new_tokens=new_tokens,
        min_new_tokens=new_tokens,
        do_sample=False,
        pad_token_id=0,
        attention_mask=torch.ones_like(ids),
    )
    model.generate(ids, **{**kwargs, "max_new_tokens": 8, "min_new_tokens": 8})
    sync(device)
    start = time.perf_counter()
    out = model.generate(ids, **kwargs)
    sync(device)
    assert out.shape[1] == ids.shape[1] + new_tokens
    return batch * new_tokens / (time.perf_counter() - start)


def roofline(model: Transformer, batch: int, context: int, ceil: dict[str, float]) -> dict:
    """Tokens/s if a decode step moved only the bytes it must, at the measured bandwidth
    (or did only its matrix work at the measured rate, whichever is slower)."""
    c = model.config
    element = model.embed.weight.element_size()
    matrices = sum(p.numel() for n, p in model.named_parameters() if p.dim() == 2)
    # the tied embedding is read whole once as the LM head; the lookup reads B rows
    weight_bytes = (matrices + batch * c.dim) * element
    kv_per_token = 2 * c.n_layers * c.n_kv_heads * c.head_size * element
    kv_bytes = batch * (context + 1) * kv_per_token
    memory_s = (weight_bytes + kv_bytes) / (ceil["copy_GBps"] * 1e9)
    flops = 2 * matrices * batch + 4 * batch * context * c.n_heads * c.head_size * c.n_layers
    compute_s = flops / (ceil["bf16_TFLOPs"] * 1e12)
    return {
        "roofline_tok_s": batch / max(memory_s, compute_s),
        "step_floor_us": max(memory_s, compute_s) * 1e6,
        "bytes_MB": (weight_bytes + kv_bytes) / 1e6,
    }


@torch.inference_mode()
def profile(model: Transformer, batch: int, context: int) -> None:
    """Kernel times of one decode step (a graph replay where graphs run), by total."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    device = model.embed.weight.device
    engine = engine_for(model, graphs=True, batch=batch)
    params = SamplingParams(temperature=0.0, max_tokens=context + 8, ignore_eos=True)
    for p in prompts(batch, model.config.vocab_size, 5, context):
        engine.add_request(p, params)
    while any(s.num_computed < len(s.prompt_token_ids) for s in engine.scheduler.running) or (
        engine.scheduler.waiting
    ):  # prefills, then two decodes (graph capture)
        engine.step()
    engine.step()
    engine.step()
    sync(device)
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with torch_profile(activities=activities) as prof:
        engine.step()
        sync(device)
    key = "self_cuda_time_total" if device.type == "cuda" else "self_cpu_time_total"
    events = prof.key_averages()
    kernels = sum(
        e.count
        for e in events
        if getattr(e, "device_type", None) is not None and str(e.device_type).endswith("CUDA")
    )
    print(f"--- one decode step, batch {batch}, context {context}: {kernels} GPU kernel launches")
    print(events.table(sort_by=key, row_limit=18, max_name_column_width=60))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--batches", default="1,16,64,256")
    parser.add_argument("--new-tokens", type=int, default=256)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--profile", action="store_true", help="kernel table of one step only")
    parser.add_argument("--served-only", action="store_true", help="the engine-thread check only")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("gpu_decode skipped: this machine has no CUDA GPU (pass --device cpu to run it here)")
        return
    if args.served_only:
        print("served:", served(device, args.quick))
        return
    if args.profile:
        model = build(device, torch.bfloat16, args.quick)
        for batch in [int(b) for b in args.batches.split(",")]:
            profile(model, batch, 256)
        return
    batches = [int(b) for b in args.batches.split(",")]
    new_tokens = 16 if args.quick else args.new_tokens
    result: dict = {"torch": torch.__version__, "device": str(device)}
    if device.type == "cuda":
        result["gpu"] = torch.cuda.get_device_name(device)
    started = time.perf_counter()

    def section(name: str, fn):
        try:
            result[name] = fn()
        except Exception as error:  # a device run is one shot: report, go on
            result[name] = {"error": f"{type(error).__name__}: {error}"}
        print(f"[{time.perf_counter() - started:6.1f}s] {name}: {result[name]}", flush=True)

    section("ceilings", lambda: ceilings(device, args.quick))
    section("check_f32", lambda: check(device, torch.float32, args.quick))
    section("check_bf16", lambda: check(device, torch.bfloat16, args.quick))
    section("graph_vs_eager_bf16_equal_tokens", lambda: graph_vs_eager(device, args.quick))
    section("served", lambda: served(device, args.quick))
    model = build(device, torch.bfloat16, args.quick)
    rows = []
    for batch in batches:
        row: dict = {"batch": batch}
        section(f"ours_graphs_b{batch}", lambda b=batch: ours(model, b, new_tokens, True))
        row["ours"] = result[f"ours_graphs_b{batch}"]
        if batch in (1, 64) or args.quick:
            section(f"ours_eager_b{batch}", lambda b=batch: ours(model, b, new_tokens, False))
            row["eager"] = result[f"ours_eager_b{batch}"]
            os.environ["SAI_GPU_KERNELS"] = "0"  # graphs of the PyTorch step, no Triton
            section(f"ours_unfused_b{batch}", lambda b=batch: ours(model, b, new_tokens, True))
            os.environ.pop("SAI_GPU_KERNELS")
            row["unfused"] = result[f"ours_unfused_b{batch}"]
        if not args.skip_peer:
            section(
                f"transformers_b{batch}",
                lambda b=batch: transformers_peer(b, new_tokens, device, args.quick),
            )
            row["peer"] = result[f"transformers_b{batch}"]
        if "error" not in result["ceilings"]:
            row["roof"] = roofline(
                model, batch, PROMPT_TOKENS + new_tokens // 2, result["ceilings"]
            )
        rows.append(row)
    result["rows"] = rows
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu_decode.json").write_text(json.dumps(result, indent=2, default=str))
    print(
        f"\n{result.get('gpu', device)}  torch {torch.__version__}  ceilings {result['ceilings']}"
    )
    print(f"check f32 {result['check_f32']}\ncheck bf16 {result['check_bf16']}")
    print(f"graph vs eager bf16 equal tokens: {result['graph_vs_eager_bf16_equal_tokens']}")
    print(f"engine thread + swap_weights: {result['served']}")
    print(
        "batch | ours graphs+Triton tok/s (step ms) | graphs, no Triton | eager | "
        "transformers | ratio | roofline tok/s | share of roofline"
    )
    for row in rows:
        o, e, p, r = row["ours"], row.get("eager", {}), row.get("peer"), row.get("roof", {})
        u = row.get("unfused", {})
        if "error" in o:
            print(row["batch"], o)
            continue
        ratio = o["decode_tok_s"] / p if isinstance(p, float) else float("nan")
        roof = r.get("roofline_tok_s", float("nan"))
        print(
            f"{row['batch']:5d} | {o['decode_tok_s']:10.0f} ({o['step_ms']:.2f}) e2e "
            f"{o['e2e_tok_s']:.0f} | {u.get('decode_tok_s', float('nan')):8.0f} | "
            f"{e.get('decode_tok_s', float('nan')):8.0f} | "
            f"{p if isinstance(p, float) else float('nan'):8.0f} | {ratio:5.1f}x | "
            f"{roof:9.0f} | {o['decode_tok_s'] / roof:.1%}"
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
