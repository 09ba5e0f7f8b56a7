"""``sai quantize MODEL OUT``: write a weight-only int8/int4 checkpoint that ``sai serve OUT`` serves."""

from __future__ import annotations

from pathlib import Path

import typer

quantize_app = typer.Typer(add_completion=False, help="Quantize a model's weights to int8 or int4.")


@quantize_app.command()
def quantize(
    model: str = typer.Argument(..., help="A registered model name, checkpoint folder or GGUF."),
    out: Path = typer.Argument(..., help="Folder to write the quantized checkpoint into."),
    bits: int = typer.Option(8, help="8 (int8) or 4 (int4)."),
    group_size: int = typer.Option(
        -1,
        help="Inputs per scale: 0 per output channel, a multiple of 32 (-1: 0 for int8, 32 for int4).",
    ),
    symmetric: bool = typer.Option(
        None, help="Symmetric codes (default: yes for int8, no for int4).", show_default=False
    ),
    method: str = typer.Option("rtn", help="rtn (round to nearest), awq or gptq."),
    head_bits: int = typer.Option(8, help="LM head: 8, 4, or 0 to keep it bf16."),
    act_order: bool = typer.Option(
        False, "--act-order", help="gptq: columns in order of decreasing Hessian diagonal."
    ),
    range_search: bool = typer.Option(
        False, "--range-search", help="gptq: each group's range by an error search."
    ),
    calibration_rows: int = typer.Option(32, help="Rows of corpus text for awq/gptq."),
    calibration_length: int = typer.Option(512, help="Tokens per calibration row."),
    perplexity_rows: int = typer.Option(
        0, help="Also report held-out perplexity before and after, on this many rows of 256."
    ),
) -> None:
    """Quantize MODEL's linear layers (the embedding table stays bf16) and save to OUT."""
    import torch

    from scalable_ai.errors import UserError
    from scalable_ai.infer.perplexity import corpus_rows, perplexity
    from scalable_ai.infer.quant import QuantSpec, quantize_model, save_quantized
    from scalable_ai.model.registry import load_pretrained
    from scalable_ai.runs import open_run

    spec = QuantSpec(
        bits=bits,
        group_size=(0 if bits == 8 else 32) if group_size < 0 else group_size,
        symmetric=(bits == 8) if symmetric is None else symmetric,
        method=method,
        head_bits=head_bits,
        act_order=act_order,
        range_search=range_search,
    )
    try:
        spec.validate()
        with open_run("quantize", config={"model": model, "out": str(out), **spec.__dict__}) as run:
            float_model, tokenizer = load_pretrained(model, dtype=torch.bfloat16)
            held = (
                corpus_rows(tokenizer, "held_out", perplexity_rows, 256) if perplexity_rows else []
            )
            before = perplexity(float_model, held) if held else None
            calibration = (
                corpus_rows(tokenizer, "calibration", calibration_rows, calibration_length)
                if method != "rtn"
                else None
            )
            if calibration:
                from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

                columns = (TextColumn(f"{method} blocks"), BarColumn(), MofNCompleteColumn())
                with Progress(*columns, transient=True) as bar:
                    task = bar.add_task(method, total=float_model.config.n_layers)
                    quantized = quantize_model(
                        float_model,
                        spec,
                        calibration,
                        lambda done: bar.update(task, completed=done),
                    )
            else:
                quantized = quantize_model(float_model, spec)
            save_quantized(quantized, out, tokenizer)
            summary: dict[str, float | None] = {}
            if held:
                after = perplexity(quantized, held)
                summary = {"perplexity_before": before, "perplexity_after": after}
                typer.echo(f"held-out perplexity: {before:.3f} -> {after:.3f}")
            run.summary(**summary)
    except UserError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    typer.echo(str(out))
