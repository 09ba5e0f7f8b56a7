"""``sai sft``, ``sai rm`` and ``sai dpo``: resolve the config, open a run, train, report.

Each takes an optional TOML file and ``--section.field VALUE`` overrides, like ``sai train``
(``sai sft --data.train chats.jsonl --lora.rank 8 --train.steps 50``). The run's folder gets
the model (``model/``), LoRA's adapter (``adapter/``) and the loss curves as PNGs; the last
line on stdout is the model folder, so ``sai serve "$(sai sft ...)"`` works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}
sft_app = typer.Typer(add_completion=False, help="Supervised fine-tuning on chat data.")


def _config(config_class: type, args: list[str]) -> Any:
    from scalable_ai.config import load_config, parse_override_args

    path = None
    if args and not args[0].startswith("-") and "=" not in args[0]:
        path = Path(args.pop(0))
    return load_config(config_class, path, parse_override_args(args))


@sft_app.command(context_settings=EXTRA)
def sft(context: typer.Context) -> None:
    """Fine-tune: sai sft [CONFIG.toml] --data.train FILE [--model NAME] [--lora.rank 8] ...

    Data: one {"messages": [{"role", "content"}, ...]} object per line; only assistant tokens
    are trained. --lora.rank 0 (the default) trains every weight; a rank > 0 trains LoRA
    adapters on --lora.target_modules and merges them into the saved model. Sections:
    model, data (train, val, val_fraction, on_error, seq_len, packing), lora (rank, alpha,
    dropout, target_modules), optim, train (steps, batch_size, grad_accum, ...).
    """
    from scalable_ai.config import to_dict
    from scalable_ai.post.sft import SFTConfig, run_sft
    from scalable_ai.runs import open_run

    config = _config(SFTConfig, list(context.args))
    config.validate()
    with open_run("sft", config=to_dict(config), seed=config.train.seed) as run:
        result = run_sft(config, run)
    summary = result.summary
    val = summary.get("val_loss")
    typer.echo(
        f"{summary['method']} fine-tuning: loss {summary.get('loss', float('nan')):.4f}"
        + (f", validation loss {val:.4f}" if val is not None else "")
        + f" after {summary['steps']} steps; run {run.id}",
        err=True,
    )
    if result.adapter_dir:
        typer.echo(f"adapter alone: {result.adapter_dir}", err=True)
    typer.echo(f"serve it: sai serve {result.model_dir}", err=True)
    typer.echo(str(result.model_dir))


rm_app = typer.Typer(add_completion=False, help="Train a reward model on preference pairs.")
dpo_app = typer.Typer(add_completion=False, help="Preference-tune a model (DPO, IPO, SimPO).")


@rm_app.command(context_settings=EXTRA)
def rm(context: typer.Context) -> None:
    """Reward model: sai rm [CONFIG.toml] --data.train PAIRS.jsonl [--model NAME] ...

    Pairs: one {"prompt", "chosen", "rejected"} object per line. The model gets a scalar head
    trained with the Bradley-Terry loss; the run logs held-out pairwise accuracy (chance 0.5).
    Sections: model, data (train, val, val_fraction, on_error, max_tokens), optim, train.
    """
    from scalable_ai.config import to_dict
    from scalable_ai.post.reward import RMConfig, run_rm
    from scalable_ai.runs import open_run

    config = _config(RMConfig, list(context.args))
    with open_run("rm", config=to_dict(config), seed=config.train.seed) as run:
        summary = run_rm(config, run)
    accuracy = summary.get("val_accuracy")
    typer.echo(
        f"reward model: loss {summary.get('loss', float('nan')):.4f}"
        + (f", held-out pairwise accuracy {accuracy:.3f}" if accuracy is not None else "")
        + f" after {summary['steps']} steps; run {run.id}",
        err=True,
    )
    typer.echo(summary["reward_model"])


@dpo_app.command(context_settings=EXTRA)
def dpo(context: typer.Context) -> None:
    """Preference tuning: sai dpo [CONFIG.toml] --data.train PAIRS.jsonl [--dpo.loss ipo] ...

    Pairs: one {"prompt", "chosen", "rejected"} object per line. --dpo.loss dpo (default),
    ipo or simpo; --dpo.beta; --lora.rank > 0 trains adapters. The reference is the starting
    model. Sections: model, data, dpo (loss, beta, simpo_gamma), lora, optim, train.
    """
    from scalable_ai.config import to_dict
    from scalable_ai.post.dpo import DPOConfig, run_dpo
    from scalable_ai.runs import open_run

    config = _config(DPOConfig, list(context.args))
    with open_run("dpo", config=to_dict(config), seed=config.train.seed) as run:
        summary = run_dpo(config, run)
    accuracy = summary.get("val_accuracy")
    typer.echo(
        f"{summary['loss_type']}: loss {summary.get('loss', float('nan')):.4f}"
        + (f", held-out reward accuracy {accuracy:.3f}" if accuracy is not None else "")
        + f" after {summary['steps']} steps; run {run.id}",
        err=True,
    )
    typer.echo(f"serve it: sai serve {summary['model']}", err=True)
    typer.echo(summary["model"])
