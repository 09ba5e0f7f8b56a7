"""``sai eval MODEL --task NAME``: score a checkpoint or an endpoint on tasks, as a run."""

from __future__ import annotations

import typer

eval_app = typer.Typer(add_completion=False, help="Evaluate a model on tasks.")


@eval_app.command()
def evaluate_command(
    model: str = typer.Argument(
        ...,
        help="A registered model (smollm2-135m), a checkpoint folder, a .gguf file, a run "
        "(sai train: newest checkpoint; sai sft/dpo: its model), or an OpenAI-compatible "
        "endpoint's /v1 URL (URL#name picks one of its models).",
    ),
    task: list[str] = typer.Option(
        None, "--task", "-t", help="A built-in task name or a task YAML file (repeatable)."
    ),
    limit: int = typer.Option(None, help="Score only the first N examples of each task."),
    num_fewshot: int = typer.Option(None, help="Override each task's number of shots."),
    dtype: str = typer.Option("float32", help="In-process weights dtype: float32 or bfloat16."),
    device: str = typer.Option("auto", help="In-process device: auto, cpu, cuda, cuda:N."),
    concurrency: int = typer.Option(8, help="Requests in flight to an endpoint."),
    timeout: float = typer.Option(120.0, help="Seconds an endpoint may take per request."),
    list_tasks: bool = typer.Option(False, "--list", help="List the built-in tasks and exit."),
) -> None:
    """Scores with standard errors to stdout; per-example JSONL in the run's artifacts."""
    from rich.console import Console
    from rich.table import Table

    from scalable_ai.errors import UserError
    from scalable_ai.eval.harness import evaluate, write_records
    from scalable_ai.eval.models import open_model
    from scalable_ai.eval.tasks import builtin_tasks, resolve_task
    from scalable_ai.runs import open_run

    console = Console(stderr=True)
    if list_tasks:
        for name, path in builtin_tasks().items():
            typer.echo(f"{name}\t{path}")
        return
    names = task or list(builtin_tasks())
    tasks = [resolve_task(name) for name in names]
    for loaded in tasks:
        if num_fewshot is not None:
            if num_fewshot > len(loaded.fewshot_examples):
                raise UserError(
                    f"task {loaded.name} has {len(loaded.fewshot_examples)} few-shot examples",
                    field="num_fewshot",
                )
            loaded.num_fewshot = num_fewshot
    config = {
        "model": model,
        "tasks": names,
        "limit": limit,
        "num_fewshot": num_fewshot,
        "dtype": dtype,
        "device": device,
        "concurrency": concurrency,
        "timeout": timeout,
    }
    table = Table("task", "metric", "value", "± stderr", "n")
    with open_run("eval", config=config, seed=0) as run:
        language_model = open_model(
            model, dtype=dtype, device=device, concurrency=concurrency, timeout=timeout
        )
        run.summary(model=language_model.name)
        for loaded in tasks:
            with console.status(f"{loaded.name}: {len(loaded.examples)} examples"):
                result = evaluate(loaded, language_model, limit)
            write_records(run.artifact(f"{loaded.name}.jsonl"), result.records)
            run.summary(**{f"{loaded.name}/{k}": v for k, v in result.summary.items()})
            for key, value in result.summary.items():
                if key.endswith("_stderr") or key in ("examples", "seconds"):
                    continue
                stderr = result.summary.get(f"{key}_stderr", 0.0)
                table.add_row(
                    loaded.name,
                    key,
                    f"{value:.4f}",
                    f"{stderr:.4f}",
                    str(result.summary["examples"]),
                )
        console.print(table)
        typer.echo(f"run {run.id}: per-example records in {run.path / 'artifacts'}", err=True)
