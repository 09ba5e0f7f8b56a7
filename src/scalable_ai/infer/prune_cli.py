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
    from scalable_ai.infer.prune import PruneSpec, distill, kl_to_teacher, sparsity_of
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
