"""``sai model``, ``sai generate`` and ``sai chat``: thin wrappers over the model library.

``sai generate`` continues a raw prompt (no chat template) and writes only the completion to
stdout, so its output can be piped; ``sai chat`` renders the model's chat template, keeps
the conversation, and streams each answer. Progress and notes go to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from scalable_ai.errors import UserError

model_app = typer.Typer(help="Pull, list and inspect models.", no_args_is_help=True,
                        add_completion=False)
generate_app = typer.Typer(help="Continue a raw prompt with a model.", add_completion=False)
chat_app = typer.Typer(help="Chat with a model in the terminal (streaming).", add_completion=False)

ModelOption = Annotated[str, typer.Option("--model", "-m", help="Registered name, checkpoint "
                                          "folder or .gguf file.")]
MaxTokens = Annotated[int, typer.Option("--max-tokens", "-n", help="Most new tokens.")]
Temperature = Annotated[float, typer.Option(help="0 is greedy.")]
TopP = Annotated[float, typer.Option("--top-p", help="Nucleus probability mass (1 disables).")]
TopK = Annotated[int, typer.Option("--top-k", help="Keep the k likeliest tokens (0 disables).")]
Stop = Annotated[list[str] | None, typer.Option("--stop", help="Stop string (repeatable).")]
Seed = Annotated[int | None, typer.Option(help="Sampling seed, for reproducible runs.")]
Dtype = Annotated[str, typer.Option(help="Weights dtype: float32 or bfloat16.")]


def _fail(error: UserError) -> None:
    typer.echo(f"error: {error}", err=True)
    raise typer.Exit(2)


@model_app.command("pull")
def pull_command(name: str) -> None:
    """Convert a registered model to our checkpoint format (offline; once)."""
    from scalable_ai.model.registry import pull

    try:
        typer.echo(str(pull(name)))
    except UserError as error:
        _fail(error)


@model_app.command("list")
def list_command() -> None:
    """Registered models and where their checkpoints are."""
    from scalable_ai.model.registry import list_models

    for row in list_models():
        typer.echo(f"{row['name']}\t{row['checkpoint']}\t{row['description']}")


@model_app.command("info")
def info_command(
    name: str,
    context: Annotated[int, typer.Option(help="Context length for attention FLOPs.")] = 2048,
) -> None:
    """Architecture, parameter counts and FLOPs per token of a model or a config preset."""
    from scalable_ai.model.config import PRESETS, ModelConfig
    from scalable_ai.model.flops import (
        count_parameters,
        forward_flops_per_token,
        training_flops_per_token,
    )
    from scalable_ai.model.load.gguf import config_from_gguf, gguf_metadata, open_gguf
    from scalable_ai.model.registry import REGISTRY, resolve

    try:
        if name in PRESETS and name not in REGISTRY:
            config, path = PRESETS[name], Path("preset")
        elif (path := resolve(name)).suffix == ".gguf":
            config = config_from_gguf(gguf_metadata(open_gguf(path)), name=path.stem)
        else:
            config = ModelConfig.load(Path(path) / "config.json")
    except UserError as error:
        _fail(error)
        return
    counts = count_parameters(config)
    typer.echo(f"model: {config.name or name}  ({path})")
    typer.echo(f"layers {config.n_layers}, dim {config.dim}, heads {config.n_heads} "
               f"(kv {config.n_kv_heads}, head {config.head_size}), ffn {config.ffn_hidden}, "
               f"vocab {config.vocab_size}, rope theta {config.rope_theta:g}, "
               f"tied {config.tie_embeddings}, experts {config.n_experts}, "
               f"window {config.sliding_window}")
    for key, value in counts.as_dict().items():
        typer.echo(f"params.{key}: {value:,}")
    typer.echo(f"flops/token forward @ {context}: {forward_flops_per_token(config, context):,}")
    typer.echo(f"flops/token training @ {context}: {training_flops_per_token(config, context):,}")


def _load(model: str, dtype: str):  # type: ignore[no-untyped-def]
    from scalable_ai.model.registry import load_pretrained

    network, tokenizer = load_pretrained(model, dtype=dtype)
    return network.optimize_for_inference(), tokenizer


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
    dtype: Dtype = "float32",
) -> None:
    """Continue PROMPT; prints only the completion on stdout, streamed as it is generated
    (a newline is added only when stdout is a terminal)."""
    from scalable_ai.model.generate import SamplingParams, stream_text

    params = SamplingParams(max_new_tokens=max_tokens, temperature=temperature, top_p=top_p,
                            top_k=top_k, stop=tuple(stop or ()), seed=seed)
    try:
        params.validate()
        network, tokenizer = _load(model, dtype)
        for piece in stream_text(network, tokenizer, prompt, params):
            sys.stdout.write(piece)
            sys.stdout.flush()
    except UserError as error:
        _fail(error)
    if sys.stdout.isatty():  # end the line for a person; a pipe gets the completion exactly
        sys.stdout.write("\n")


@chat_app.command()
def chat(
    model: ModelOption = "smollm2-135m",
    system: Annotated[str | None, typer.Option(help="System message.")] = None,
    message: Annotated[list[str] | None, typer.Option(
        "--message", help="Send this user message instead of reading stdin (repeatable).")] = None,
    max_tokens: MaxTokens = 256,
    temperature: Temperature = 0.7,
    top_p: TopP = 0.9,
    top_k: TopK = 50,
    stop: Stop = None,
    seed: Seed = None,
    dtype: Dtype = "bfloat16",  # ~1.5x faster decode than float32 (bench/model_forward.py)
) -> None:
    """Talk to the model: type a message, the answer streams back. /reset clears, /exit ends."""
    from scalable_ai.model.generate import SamplingParams, stream_text

    params = SamplingParams(max_new_tokens=max_tokens, temperature=temperature, top_p=top_p,
                            top_k=top_k, stop=tuple(stop or ()), seed=seed)
    try:
        params.validate()
        network, tokenizer = _load(model, dtype)
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
            prompt = tokenizer.apply_chat_template(history, add_generation_prompt=True)
            answer = ""
            for piece in stream_text(network, tokenizer, prompt, params, add_bos=False):
                answer += piece
                sys.stdout.write(piece)
                sys.stdout.flush()
        except UserError as error:
            _fail(error)
        sys.stdout.write("\n")
        history.append({"role": "assistant", "content": answer})
