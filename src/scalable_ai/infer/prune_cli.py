"""``sai prune MODEL OUT``: masks, or a smaller dense model (width/depth), then distillation."""

from __future__ import annotations

from pathlib import Path

import typer

prune_app = typer.Typer(add_completion=False, help="Prune a model, then distill it back.")


@prune_app.command()
def prune(
    model: str = typer.Argument(..., help="A registered model name, checkpoint folder or GGUF."),
    out: Path = typer.Argument(..., help="Folder to write the pruned checkpoint into."),
    mode: str = typer.Option("magnitude", help="magnitude, 2:4, width or depth."),
    sparsity: float = typer.Option(0.5, help="magnitude: fraction of each matrix zeroed."),
    ffn_hidden: int = typer.Option(0, help="width: FFN hidden channels kept (0: all)."),
    heads_per_group: int = typer.Option(0, help="width: query heads kept per KV head (0: all)."),
    layers: int = typer.Option(0, help="depth: blocks kept, the least important dropped."),
    drop_layers: str = typer.Option("", help="depth: comma-separated block indices to drop."),
    distill_steps: int = typer.Option(0, help="AdamW steps of KL distillation from the original."),
    lr: float = typer.Option(1e-4, help="Distillation learning rate."),
    calibration_rows: int = typer.Option(16, help="Rows of corpus text for importance/distill."),
    calibration_length: int = typer.Option(128, help="Tokens per calibration row."),
    perplexity_rows: int = typer.Option(
        0, help="Report held-out perplexity before/after pruning/after distillation (rows of 256)."
    ),
) -> None:
    """Prune MODEL and save a normal checkpoint to OUT (``sai serve OUT`` serves it)."""
    import copy

    import torch

    from scalable_ai.errors import UserError
    from scalable_ai.infer.perplexity import corpus_rows, perplexity
    from scalable_ai.infer.prune import (
        PruneSpec,
        distill,
        kl_to_teacher,
        least_important_blocks,
        sparsity_of,
    )
    from scalable_ai.infer.prune import prune as prune_model
    from scalable_ai.model.load.safetensors import save_checkpoint
    from scalable_ai.model.registry import load_pretrained
    from scalable_ai.runs import open_run

    try:
        drops = [int(i) for i in drop_layers.split(",") if i.strip()]
    except ValueError as error:
        raise UserError(f"not a list of integers: {drop_layers!r}", field="drop_layers") from error
    spec = PruneSpec(mode, sparsity, ffn_hidden, heads_per_group, layers, drops, distill_steps, lr)
    spec.validate()
    with open_run("prune", config={"model": model, "out": str(out), **spec.__dict__}) as run:
        original, tokenizer = load_pretrained(model, dtype=torch.float32)
        spec.validate(original.config)
        held = corpus_rows(tokenizer, "held_out", perplexity_rows, 256) if perplexity_rows else []
        calibration = corpus_rows(tokenizer, "calibration", calibration_rows, calibration_length)
        summary: dict[str, float] = {}
        if spec.mode == "depth" and not spec.drop_layers:
            spec.drop_layers = least_important_blocks(original, calibration, spec.n_layers)
            typer.echo(f"dropped blocks (least important): {spec.drop_layers}")
            run.record["config"]["drop_layers"] = spec.drop_layers
        if held:
            summary["perplexity_original"] = perplexity(original, held)
        teacher = copy.deepcopy(original) if spec.mode in ("magnitude", "2:4") else original
        pruned, masks = prune_model(original, spec, calibration)
        summary["parameters_original"] = sum(p.numel() for p in teacher.parameters())
        summary["parameters_pruned"] = sum(p.numel() for p in pruned.parameters())
        summary["sparsity"] = sparsity_of(pruned)
        summary["kl_pruned"] = kl_to_teacher(pruned, teacher, calibration)
        if held:
            summary["perplexity_pruned"] = perplexity(pruned, held)
        if spec.distill_steps:
            distill(
                pruned,
                teacher,
                calibration,
                spec.distill_steps,
                spec.lr,
                masks,
                on_step=lambda step, loss: run.log(step, kl=loss),
            )
            summary["kl_distilled"] = kl_to_teacher(pruned, teacher, calibration)
            if held:
                summary["perplexity_distilled"] = perplexity(pruned, held)
        save_checkpoint(pruned, out)
        tokenizer.save(out)
        run.summary(**summary)
    for key, value in summary.items():
        typer.echo(f"{key}: {value:.4g}")
    typer.echo(str(out))


search_app = typer.Typer(add_completion=False, help="Search pruned shapes under a latency budget.")


def _ints(text: str, field: str) -> list[int]:
    from scalable_ai.errors import UserError

    try:
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError as error:
        raise UserError(f"not a list of integers: {text!r}", field=field) from error


@search_app.command()
def search(
    model: str = typer.Argument(..., help="A registered model name, checkpoint folder or GGUF."),
    depths: str = typer.Option("", help="Blocks to keep, comma-separated (default: n, 3n/4)."),
    widths: str = typer.Option("", help="FFN hidden sizes, comma-separated (default: h, h/2)."),
    heads: str = typer.Option("", help="Query heads per KV head (default: all, and 1 if fewer)."),
    budget: float = typer.Option(0.75, help="Latency budget, a fraction of the original's."),
    distill_steps: int = typer.Option(0, help="KL distillation steps per candidate."),
    calibration_rows: int = typer.Option(16, help="Rows of corpus text for importance/distill."),
    perplexity_rows: int = typer.Option(8, help="Held-out rows of 256 tokens for perplexity."),
    latency_tokens: int = typer.Option(
        128, help="Context length (tokens) at which the serving decode step is timed."
    ),
    out: Path = typer.Option(None, help="Also save the chosen candidate as a checkpoint here."),
) -> None:
    """Prune MODEL to every shape of the grid, measure perplexity and latency here, print the
    Pareto front and the best shape within the budget (a PNG of the front in the run)."""
    import torch

    from scalable_ai.errors import UserError
    from scalable_ai.infer.perplexity import corpus_rows
    from scalable_ai.infer.prune import block_importance, prune_depth, prune_width
    from scalable_ai.infer.search import plot_front, shapes, within_budget
    from scalable_ai.infer.search import search as run_search
    from scalable_ai.model.load.safetensors import save_checkpoint
    from scalable_ai.model.registry import load_pretrained
    from scalable_ai.runs import open_run

    if not 0 < budget <= 1:
        raise UserError(f"must be in (0, 1], got {budget}", field="budget")
    original, tokenizer = load_pretrained(model, dtype=torch.float32)
    c = original.config
    group = c.n_heads // c.n_kv_heads
    grid = shapes(
        original,
        _ints(depths, "depths") or [c.n_layers, max(1, (3 * c.n_layers) // 4)],
        _ints(widths, "widths") or [c.ffn_hidden, c.ffn_hidden // 2],
        _ints(heads, "heads") or sorted({group, 1}),
    )
    settings = {"model": model, "budget": budget, "grid": grid, "distill_steps": distill_steps}
    with open_run("search", config=settings) as run:
        held = corpus_rows(tokenizer, "held_out", perplexity_rows, 256)
        calibration = corpus_rows(tokenizer, "calibration", calibration_rows, 128)
        results, baseline = run_search(
            original,
            calibration,
            held,
            grid,
            tokenizer,
            distill_steps,
            latency_tokens=latency_tokens,
        )
        budget_ms = budget * baseline
        for step, candidate in enumerate(results):
            run.log(step, **candidate.as_dict())
        chosen = within_budget(results, budget_ms)
        plot = plot_front(results, baseline, budget_ms, run.artifact("pareto.png"))
        typer.echo(f"original decode step {baseline:.2f} ms; budget {budget_ms:.2f} ms")
        typer.echo("blocks  ffn  heads/kv  params  latency_ms  perplexity  front")
        for r in sorted(results, key=lambda r: r.latency_ms):
            typer.echo(
                f"{r.n_layers:6d} {r.ffn_hidden:4d} {r.heads_per_group:9d} {r.parameters:7d}"
                f" {r.latency_ms:11.2f} {r.perplexity:11.2f}  {'*' if r.on_front else ''}"
            )
        summary: dict[str, object] = {"latency_original_ms": baseline, "budget_ms": budget_ms}
        if chosen is None:
            typer.echo("no candidate on the front fits the budget")
        else:
            summary.update({f"chosen_{k}": v for k, v in chosen.as_dict().items()})
            typer.echo(
                f"chosen: {chosen.n_layers} blocks, ffn {chosen.ffn_hidden},"
                f" {chosen.heads_per_group} heads/kv"
            )
            if out is not None:
                scores = block_importance(original, calibration)
                ranked = sorted(range(len(scores)), key=lambda i: scores[i])
                drop = sorted(ranked[: c.n_layers - chosen.n_layers])
                best = prune_width(
                    prune_depth(original, drop),
                    calibration,
                    chosen.ffn_hidden,
                    chosen.heads_per_group,
                )
                save_checkpoint(best, out)
                tokenizer.save(out)
                typer.echo(str(out))
        run.summary(**summary)
        typer.echo(f"plot: {plot}")
