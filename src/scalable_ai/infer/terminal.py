"""``sai generate`` and ``sai chat``: the inference engine in a terminal, without a server.

Both build the engine exactly as ``sai serve`` does (:func:`~scalable_ai.infer.engine.load_engine`
with the same dtype, forward path, sampler and stop rules), so a prompt and a seed give the
same tokens here as through the OpenAI API. ``sai generate`` continues a raw prompt (no chat
template) and writes only the completion to stdout, so its output can be piped; ``sai chat``
renders the model's chat template, keeps the conversation, and streams each answer. Notes
go to stderr.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from scalable_ai.errors import UserError

if TYPE_CHECKING:
    from scalable_ai.infer.engine import LLMEngine
    from scalable_ai.infer.sampling import SamplingParams

generate_app = typer.Typer(help="Continue a raw prompt with a model.", add_completion=False)
chat_app = typer.Typer(help="Chat with a model in the terminal (streaming).", add_completion=False)

ModelOption = Annotated[
    str, typer.Option("--model", "-m", help="Registered name, checkpoint folder or .gguf file.")
]
MaxTokens = Annotated[int, typer.Option("--max-tokens", "-n", help="Most new tokens.")]
Temperature = Annotated[float, typer.Option(help="0 is greedy.")]
TopP = Annotated[float, typer.Option("--top-p", help="Nucleus probability mass (1 disables).")]
TopK = Annotated[int, typer.Option("--top-k", help="Keep the k likeliest tokens (0 disables).")]
Stop = Annotated[
    list[str] | None, typer.Option("--stop", help="Stop string (repeatable, 4 at most).")
]
Seed = Annotated[int | None, typer.Option(help="Sampling seed, for reproducible runs.")]
Dtype = Annotated[str, typer.Option(help="Weights and KV cache dtype: bfloat16 or float32.")]
Device = Annotated[str, typer.Option(help="auto (a CUDA GPU when present), cpu, cuda, cuda:N.")]

#: A terminal runs one conversation: a smaller paged cache than a server's (it still holds
#: at least one whole context, ``engine.default_num_blocks``).
TERMINAL_KV_CACHE_MEGABYTES = 64


def _fail(error: UserError) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(2)


def _engine(model: str, dtype: str, device: str) -> LLMEngine:
    import torch

    from scalable_ai.infer.engine import EngineConfig, load_engine

    torch.set_flush_denormal(True)  # as ``sai serve`` does, so both compute the same numbers
    return load_engine(
        model,
        dtype=dtype,
        config=EngineConfig(kv_cache_megabytes=TERMINAL_KV_CACHE_MEGABYTES),
        device=device,
    )


def _params(
    max_tokens: int,
    temperature: float,
    top_p: float,
    top_k: int,
    stop: list[str] | None,
    seed: int | None,
) -> SamplingParams:
    from scalable_ai.infer.sampling import SamplingParams

    return SamplingParams(
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        top_k=top_k,
        stop=list(stop or ()),
        seed=seed,
    )


def _write_stream(engine: LLMEngine, prompt: str, params: SamplingParams) -> str:
    """Stream one completion to stdout as it is generated; returns its whole text."""
    text = ""
    for delta in engine.stream(prompt, params):
        if delta.text:
            text += delta.text
            sys.stdout.write(delta.text)
            sys.stdout.flush()
    return text


@generate_app.command()
def generate(
    prompt: Annotated[str, typer.Argument(help="Raw text to continue (no chat template).")],
    model: ModelOption = "smollm2-135m",
    max_tokens: MaxTokens = 128,
    temperature: Temperature = 0.7,
    top_p: TopP = 1.0,
    top_k: TopK = 0,
    stop: Stop = None,
    seed: Seed = None,
    dtype: Dtype = "bfloat16",
    device: Device = "auto",
    steps: Annotated[
        int, typer.Option(help="Diffusion models: denoising steps (0: one per token).")
    ] = 0,
    block_length: Annotated[
        int, typer.Option(help="Diffusion models: semi-autoregressive block (0: one block).")
    ] = 0,
    remasking: Annotated[
        str, typer.Option(help="Diffusion models: confidence or random remasking.")
    ] = "confidence",
) -> None:
    """Continue PROMPT; prints only the completion on stdout, streamed as it is generated
    (a newline is added only when stdout is a terminal). A masked diffusion checkpoint
    (``sai train --objective diffusion``) answers MAX_TOKENS tokens in STEPS denoiser calls."""
    try:
        if _is_diffusion(model):
            sys.stdout.write(
                _diffusion_answer(
                    model, prompt, max_tokens, temperature, seed, steps, block_length, remasking
                )
            )
        else:
            params = _params(max_tokens, temperature, top_p, top_k, stop, seed)
            _write_stream(_engine(model, dtype, device), prompt, params)
    except UserError as error:
        _fail(error)
    if sys.stdout.isatty():  # end the line for a person; a pipe gets the completion exactly
        sys.stdout.write("\n")


def _is_diffusion(model: str) -> bool:
    """Whether MODEL is a checkpoint folder of a masked diffusion LM (``causal = false``)."""
    from pathlib import Path

    from scalable_ai.model.config import ModelConfig

    config = Path(model).expanduser() / "config.json"
    return config.is_file() and not ModelConfig.load(config).causal


def _diffusion_answer(
    model: str,
    prompt: str,
    max_tokens: int,
    temperature: float,
    seed: int | None,
    steps: int,
    block_length: int,
    remasking: str,
) -> str:
    from scalable_ai.diffusion.generate import sample_texts
    from scalable_ai.model.registry import load_pretrained

    network, tokenizer = load_pretrained(model, dtype="float32", device="cpu")
    return sample_texts(
        network,
        tokenizer,
        prompt,
        max_tokens,
        steps=steps,
        block_length=block_length,
        temperature=temperature,
        remasking=remasking,
        seed=seed,
    )[0]


@chat_app.command()
def chat(
    model: ModelOption = "smollm2-135m",
    system: Annotated[str | None, typer.Option(help="System message.")] = None,
    message: Annotated[
        list[str] | None,
        typer.Option(
            "--message", help="Send this user message instead of reading stdin (repeatable)."
        ),
    ] = None,
    max_tokens: MaxTokens = 256,
    temperature: Temperature = 0.7,
    top_p: TopP = 0.9,
    top_k: TopK = 50,
    stop: Stop = None,
    seed: Seed = None,
    dtype: Dtype = "bfloat16",
    device: Device = "auto",
) -> None:
    """Talk to the model: type a message, the answer streams back. /reset clears, /exit ends."""
    try:
        params = _params(max_tokens, temperature, top_p, top_k, stop, seed)
        engine = _engine(model, dtype, device)
    except UserError as error:
        _fail(error)
        return
    interactive = message is None
    history: list[dict[str, str]] = [{"role": "system", "content": system}] if system else []
    turns = iter(message or ())
    if interactive:
        typer.echo("chat with the model; /reset clears the conversation, /exit ends", err=True)
    while True:
        if interactive:
            sys.stderr.write("\nyou> ")
            sys.stderr.flush()
            line = sys.stdin.readline()
            if not line:
                break
        else:
            line = next(turns, None)
            if line is None:
                break
        text = line.strip()
        if text in ("/exit", "/quit"):
            break
        if text == "/reset":
            history = history[:1] if system else []
            continue
        if not text:
            continue
        history.append({"role": "user", "content": text})
        try:
            prompt = engine.tokenizer.apply_chat_template(history, add_generation_prompt=True)
            answer = _write_stream(engine, prompt, params)
        except UserError as error:
            _fail(error)
        sys.stdout.write("\n")
        history.append({"role": "assistant", "content": answer})
