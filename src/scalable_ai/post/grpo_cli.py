"""``sai grpo``: resolve the config (variant, TOML, overrides), open a run, train, report."""

from __future__ import annotations

from pathlib import Path

import typer

grpo_app = typer.Typer(add_completion=False, help="RL post-training with GRPO and its variants.")

EXTRA = {"allow_extra_args": True, "ignore_unknown_options": True}


@grpo_app.command(context_settings=EXTRA)
def grpo(
    context: typer.Context,
    variant: str = typer.Option(
        "grpo", help="Settings to start from: grpo, dapo, dr_grpo, rloo or async."
    ),
) -> None:
    """GRPO: sai grpo [CONFIG.toml] [--variant NAME] [--field VALUE ...].

    Samples groups through our inference engine in this process, scores them with a
    verifiable-reward environment (--env arithmetic, format, math or calculator), and updates
    the model in place. Every field is set with --name VALUE, e.g. --model PATH --steps 50
    --eps_high 0.28. The run gets metrics per step, reward plots (reward.png), every rollout
    (rollouts.jsonl) and the final model (model/, servable with sai serve).
    """
    from scalable_ai.config import load_config, parse_override_args, to_dict
    from scalable_ai.post.grpo import GRPOConfig, GRPOTrainer, variant_config
    from scalable_ai.runs import open_run

    args = list(context.args)
    path = None
    if args and not args[0].startswith("-") and "=" not in args[0]:
        path = Path(args.pop(0))
    config = load_config(GRPOConfig, path, parse_override_args(args), base=variant_config(variant))
    config.validate()
    with open_run("grpo", config=to_dict(config), seed=config.seed) as run:
        result = GRPOTrainer(config, run).fit()
    typer.echo(
        f"mean reward {result.first_reward:.3f} (first fifth of the steps) -> "
        f"{result.last_reward:.3f} (last fifth) over {result.steps} steps; run {run.id}",
        err=True,
    )
    if result.checkpoint is not None:
        typer.echo(f"serve it: sai serve {result.checkpoint}", err=True)
        typer.echo(str(result.checkpoint))
