"""``sai train``: resolve the config (preset, TOML, overrides), open a run, train, report."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import typer

train_app = typer.Typer(add_completion=False, help="Pre-train a model on token shards.")

EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}


@train_app.command(context_settings=EXTRA)
def train(
    context: typer.Context,
    preset: str = typer.Option(None, help="Start from a named preset: tiny or gpu-124m."),
    resume: str = typer.Option(
        None,
        help="A checkpoint folder, or a run (id or folder) to continue from its newest checkpoint.",
    ),
    objective: str = typer.Option(
        None,
        help="autoregressive (default) or diffusion: a masked diffusion LM (docs/greenfields.md).",
    ),
    parallel: str = typer.Option(
        "",
        envvar="SAI_PARALLEL",
        help="Split over torchrun's processes, e.g. fsdp=2,tp=2 (dp, fsdp, tp, ep; docs/parallelism.md).",
    ),
) -> None:
    """Train: sai train [CONFIG.toml] [--preset NAME] [--section.field VALUE ...].

    Any field is set with --section.field VALUE (e.g. --train.steps 200) after the optional
    TOML file.
    Checkpoints land in the run's folder (runs/<id>/checkpoints/step-N); each one is a model
    that `sai generate`, `sai chat` and `sai serve` load as it is.
    """
    from scalable_ai.config import parse_override_args, to_dict
    from scalable_ai.runs import open_run
    from scalable_ai.train.trainer import Trainer

    args = list(context.args)
    config = None
    if args and not args[0].startswith("-") and "=" not in args[0]:
        config = Path(args.pop(0))
    overrides = parse_override_args(args)
    if objective is not None:
        overrides.append(f"train.objective={objective}")
    # One run for the whole job: only global rank 0 (torchrun's RANK) opens it.
    writer = not parallel or os.environ.get("RANK", "0") == "0"
    with open_run("train") if writer else contextlib.nullcontext(None) as run:
        resolved = resolve_config(config, preset, overrides, resume)
        if run is not None:
            run.record.update(config=to_dict(resolved), seed=resolved.train.seed)
            run.summary()  # rewrites run.json with the resolved config
        context = None
        if parallel:
            from scalable_ai.parallel.train_context import parallel_train_context

            context = parallel_train_context(parallel, resolved)
        result = Trainer(resolved, run, context=context, resume=resume).fit()
    if not writer:
        return
    typer.echo(
        f"validation loss {result.val_loss:.4f} (unigram baseline "
        f"{result.unigram_val_loss if result.unigram_val_loss is None else round(result.unigram_val_loss, 4)}) "
        f"after {result.steps} steps, {result.tokens:,} tokens; run {run.id}",
        err=True,
    )
    if result.sample:
        typer.echo(f"sample: {result.sample!r}", err=True)
    if resolved.train.objective == "diffusion":
        typer.echo(f"sample it: sai generate 'The' --model {result.checkpoint}", err=True)
    else:
        typer.echo(f"serve it: sai serve {result.checkpoint}", err=True)
    typer.echo(str(result.checkpoint))


def resolve_config(
    config: Path | None, preset: str | None, overrides: list[str], resume: str | None = None
):  # type: ignore[no-untyped-def]
    """The run's config; resuming with neither a file nor a preset starts from the
    checkpoint's own ``train.toml``."""
    from scalable_ai.config import load_config
    from scalable_ai.train import checkpoint
    from scalable_ai.train.config import TrainConfig, load_train_config

    base = None
    if resume and config is None and preset is None:
        saved = checkpoint.find(resume) / checkpoint.TRAIN_CONFIG_FILE
        base = load_config(TrainConfig, saved)
    return load_train_config(config, preset, overrides, base=base)
