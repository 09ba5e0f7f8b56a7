"""``sai runs``: read the run registry (list, show, compare, plot)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from scalable_ai.runs import (
    config_differences,
    flatten,
    list_runs,
    load_run,
    plot_metric,
    read_metrics,
)

runs_app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="List, show, compare and plot runs (SAI_RUNS_DIR).",
)
console = Console()


def when(stamp: str | None) -> str:
    """A run's ISO time (stored in UTC) in this machine's time zone, with the zone's name
    (``2026-03-05 10:00:12 PST``): a bare ISO string read as local time was 8 hours off."""
    if not stamp:
        return "-"
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


@runs_app.command("list")
def list_command(
    command: str = typer.Option(None, "--command", "-c", help="Only runs of this command."),
    limit: int = typer.Option(30, help="Show the newest N runs."),
) -> None:
    """The newest runs: id, command, status, start, seed, git commit and headline numbers."""
    runs = [r for r in list_runs() if command is None or r.command == command][-limit:]
    if not runs:
        console.print("no runs yet")
        return
    table = Table(title=f"{len(runs)} run(s)", title_justify="left")
    for column in ("id", "command", "status", "started", "seed", "commit", "summary"):
        table.add_column(column, overflow="fold")
    for run in runs:
        git = run.data.get("git") or {}
        commit = (git.get("commit") or "-")[:8] + ("*" if git.get("dirty") else "")
        summary = ", ".join(f"{k}={_fmt(v)}" for k, v in list(run.summary.items())[:4])
        table.add_row(
            run.id,
            run.command,
            run.status,
            when(run.started_at),
            _fmt(run.data.get("seed")),
            commit,
            summary,
        )
    console.print(table)


@runs_app.command("show")
def show_command(
    run_id: str = typer.Argument(..., help="Run id, unique prefix/suffix, or folder."),
) -> None:
    """Everything a run recorded: config, seed, git, versions, device, summary, last metrics."""
    run = load_run(run_id)
    data = run.data
    console.print(f"[bold]{run.id}[/bold]  {run.command}  [{run.status}]  {run.path}")
    console.print(f"argv: {' '.join(data.get('argv') or [])}")
    console.print(f"seed: {data.get('seed')}   git: {data.get('git')}")
    console.print(f"started {when(data.get('started_at'))}  ended {when(data.get('ended_at'))}")
    if data.get("error"):
        console.print(f"[red]error: {data['error']}[/red]")
    for title, section in (
        ("config", flatten(run.config)),
        ("summary", run.summary),
        ("versions", data.get("versions") or {}),
        ("device", data.get("device") or {}),
    ):
        if not section:
            continue
        table = Table(title=title, show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for key, value in section.items():
            table.add_row(key, _fmt(value))
        console.print(table)
    rows = read_metrics(run)
    if rows:
        console.print(f"metrics: {len(rows)} rows; last: {rows[-1]}")
    for artifact in run.artifacts():
        console.print(f"artifact: {artifact}")


@runs_app.command("compare")
def compare_command(run_ids: list[str] = typer.Argument(..., help="Two or more runs.")) -> None:
    """Side by side: the config fields that differ, then every summary number."""
    runs = [load_run(r) for r in run_ids]
    table = Table(title="compare", title_justify="left")
    table.add_column("field", style="bold")
    for run in runs:
        table.add_column(run.id, overflow="fold")
    table.add_row("command", *[r.command for r in runs])
    table.add_row("status", *[r.status for r in runs])
    table.add_row("seed", *[_fmt(r.data.get("seed")) for r in runs])
    for field, values in config_differences(runs).items():
        table.add_row(f"config.{field}", *[_fmt(v) for v in values])
    keys = sorted(set().union(*(r.summary for r in runs)))
    for key in keys:
        table.add_row(key, *[_fmt(r.summary.get(key, "-")) for r in runs])
    console.print(table)


@runs_app.command("plot")
def plot_command(
    run_id: str = typer.Argument(..., help="Run id (or several, comma-separated)."),
    metric: str = typer.Argument(..., help="Metric name from metrics.jsonl."),
    out: Path = typer.Option(None, "--out", "-o", help="PNG path (default: inside the first run)."),
) -> None:
    """Plot a metric against step to a PNG."""
    runs = [load_run(r) for r in run_id.split(",")]
    target = out or runs[0].path / "artifacts" / f"{metric}.png"
    plot_metric(runs, metric, target)
    typer.echo(str(target))
