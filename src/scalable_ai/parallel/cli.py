"""``sai launch`` (torchrun on every node of a hostfile) and ``sai plan`` (memory and
communication per GPU for each way of splitting a model)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from scalable_ai.parallel.launch import check_reachable, parse_hostfile, plan_launch, run_launches
from scalable_ai.parallel.planner import GIB, GPUS, Workload, plan_both, planner_model, step_flops
from scalable_ai.parallel.spec import ParallelSpec

launch_app = typer.Typer(add_completion=False)
plan_app = typer.Typer(add_completion=False)


@launch_app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def launch(
    ctx: typer.Context,
    hostfile: Path = typer.Option(..., help="The reservation's hostfile: 'IP slots=N' lines."),
    spec: str = typer.Option(
        "",
        help="Parallel spec, e.g. fsdp=8,tp=2 (checked against the "
        "hostfile's process count; exported as SAI_PARALLEL).",
    ),
    port: int = typer.Option(29400, help="c10d rendezvous port on the first host."),
    nproc_per_node: int = typer.Option(0, help="Processes per node (0: the hostfile's slots)."),
    rdzv_id: str = typer.Option("sai", help="Rendezvous id shared by every node of the job."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the per-node commands only."),
) -> None:
    """Run COMMAND (after --) under torchrun on every node of HOSTFILE."""
    hosts = parse_hostfile(hostfile)
    parsed = ParallelSpec.parse(spec) if spec else None
    launches = plan_launch(
        hosts,
        list(ctx.args),
        port=port,
        nproc_per_node=nproc_per_node or None,
        rdzv_id=rdzv_id,
        spec=parsed,
    )
    for node in launches:
        where = "local" if node.host.is_local else "ssh"
        typer.echo(f"# node {node.node_rank} ({node.host.address}, {where})\n{node.command_line}")
    if dry_run:
        return
    check_reachable(hosts, port)
    code = run_launches(launches, parsed)
    if code:
        typer.echo(f"error: a node exited with status {code}", err=True)
        sys.exit(code)


@plan_app.command()
def plan(
    model: str = typer.Option("smollm2-135m", help="8b, a preset name, or a config file."),
    gpus: int = typer.Option(8, help="GPUs in all."),
    gpu: str = typer.Option("h100-80gb", help=f"One of {', '.join(GPUS)}."),
    gpus_per_node: int = typer.Option(8, help="GPUs per node (dimensions beyond cross nodes)."),
    batch_size: int = typer.Option(32, help="Global batch, in sequences."),
    seq_len: int = typer.Option(4096, help="Tokens per sequence."),
    microbatches: int = typer.Option(8, help="Pipeline micro-batches."),
    top: int = typer.Option(12, help="How many candidates to list."),
) -> None:
    """Memory per GPU and bytes moved per step for each spec, then a recommendation."""
    config = planner_model(model)
    work = Workload(batch_size=batch_size, seq_len=seq_len, microbatches=microbatches)
    pairs, best = plan_both(config, gpus, gpu, work, gpus_per_node)
    flops = step_flops(config, work) / gpus
    table = Table(
        title=f"{config.name or model} on {gpus} x {gpu}, batch {batch_size} x "
        f"{seq_len} (GiB per GPU)",
        title_justify="left",
    )
    for column in (
        "spec",
        "params",
        "grads",
        "optim",
        "activ.",
        "activ. AC",
        "total",
        "total AC",
        "comm GiB/step",
        "step s (est.)",
    ):
        table.add_column(column, justify="left" if column == "spec" else "right")
    for plain, checkpointed in pairs[:top]:
        table.add_row(
            str(plain.spec),
            *(
                f"{value / GIB:.1f}"
                for value in (
                    plain.parameters,
                    plain.gradients,
                    plain.optimizer,
                    plain.activations,
                    checkpointed.activations,
                    plain.total,
                    checkpointed.total,
                    plain.communication,
                )
            ),
            f"{plain.step_seconds(GPUS[gpu], flops):.3f}",
        )
    Console(width=max(140, Console().width)).print(table)
    if best is None:
        typer.echo("recommendation: nothing fits; more GPUs, a smaller batch, or shorter sequences")
    else:
        checkpointing = " with activation checkpointing" if any(best is c for _, c in pairs) else ""
        typer.echo(
            f"recommendation: --parallel {best.spec}{checkpointing} "
            f"({best.total / GIB:.1f} GiB per GPU, {best.communication / GIB:.2f} GiB "
            "moved per step)"
        )
