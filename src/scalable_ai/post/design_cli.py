"""``sai design CONFIG``: make a synthetic dataset from a design file, as a run."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import typer

design_app = typer.Typer(add_completion=False, help="Synthetic data from a column schema.")


@design_app.command()
def design(
    config: Path = typer.Argument(..., help="A design file (YAML or TOML)."),
    out: Path = typer.Option(
        None, help="Accepted rows (JSONL); default <data dir>/design/<name>.jsonl."
    ),
    rows: int = typer.Option(None, help="Override the design's number of rows."),
    preview: int = typer.Option(0, help="Make N rows, print them, write nothing."),
    endpoint: str = typer.Option(None, help="The endpoint's /v1 URL (default: the design's)."),
    model: str = typer.Option(None, help="The served model's name (default: the first)."),
    concurrency: int = typer.Option(None, help="Requests in flight to the endpoint."),
    timeout: float = typer.Option(None, help="Seconds the endpoint may take per request."),
) -> None:
    """Rows go to OUT as they are accepted; rerunning resumes (see docs/post-training.md)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from scalable_ai.post.design_config import load_design
    from scalable_ai.post.designer import Designer, sidecar
    from scalable_ai.runs import open_run
    from scalable_ai.settings import get_settings

    overrides = {
        "rows": rows,
        "endpoint.base_url": endpoint,
        "endpoint.model": model,
        "endpoint.concurrency": concurrency,
        "endpoint.timeout": timeout,
    }
    spec = load_design(config, overrides)
    designer = Designer(spec)
    console = Console(stderr=True)
    if preview:
        for outcome in asyncio.run(designer.preview(preview)):
            verdict = (
                "rejected by " + ", ".join(outcome.rejected_by) if outcome.rejected_by else "ok"
            )
            console.print(f"[bold]row {outcome.row_id}[/bold] ({verdict})")
            typer.echo(json.dumps(outcome.row, ensure_ascii=False, default=str))
        return
    out = out or get_settings().data_dir / "design" / f"{spec.name}.jsonl"
    with open_run("design", config={**spec.model_dump(by_alias=True), "out": str(out)}) as run:
        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn()]
        with Progress(*columns, console=console, transient=True) as bar:
            task = bar.add_task(spec.name, total=spec.rows)

            def advance(report) -> None:  # type: ignore[no-untyped-def]
                bar.update(
                    task,
                    completed=report.accepted,
                    description=f"{spec.name} ({report.rejected} rejected, "
                    f"{report.duplicates} duplicates)",
                )

            report = asyncio.run(designer.generate(out, on_row=advance))
        summary = report.as_dict()
        sidecar(out, ".report.json").write_text(json.dumps(summary, indent=2) + "\n")
        run.artifact("report.json").write_text(json.dumps(summary, indent=2) + "\n")
        flat = {k: v for k, v in summary.items() if k != "rejected_by"}
        run.summary(
            out=str(out),
            **flat,
            **{f"rejected_by/{k}": v for k, v in summary["rejected_by"].items()},
        )
        console.print(
            f"{report.accepted} rows in {out} ({report.rejected} rejected: "
            + (", ".join(f"{k} {v}" for k, v in summary["rejected_by"].items()) or "none")
            + f"; {report.duplicates} duplicates); run {run.id}"
        )
        if report.accepted < spec.rows:
            console.print(
                f"[yellow]only {report.accepted} of {spec.rows} rows after "
                f"{spec.max_attempts_per_row:g} tries per row: loosen the validators or raise "
                "max_attempts_per_row[/yellow]"
            )
        typer.echo(str(out))
