"""``sai model pull|list|info``: thin wrappers over the model library.

Text generation (``sai generate``, ``sai chat``) runs on the inference engine: see
``scalable_ai.infer.terminal``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from scalable_ai.errors import UserError

model_app = typer.Typer(
    help="Pull, list and inspect models.", no_args_is_help=True, add_completion=False
)


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
    typer.echo(
        f"layers {config.n_layers}, dim {config.dim}, heads {config.n_heads} "
        f"(kv {config.n_kv_heads}, head {config.head_size}), ffn {config.ffn_hidden}, "
        f"vocab {config.vocab_size}, rope theta {config.rope_theta:g}, "
        f"tied {config.tie_embeddings}, experts {config.n_experts}, "
        f"window {config.sliding_window}"
    )
    for key, value in counts.as_dict().items():
        typer.echo(f"params.{key}: {value:,}")
    typer.echo(f"flops/token forward @ {context}: {forward_flops_per_token(config, context):,}")
    typer.echo(f"flops/token training @ {context}: {training_flops_per_token(config, context):,}")
