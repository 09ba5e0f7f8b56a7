"""``sai data shard``: curated JSONL + a tokenizer -> token shards (a thin wrapper)."""

from __future__ import annotations

from pathlib import Path

import typer

shard_app = typer.Typer(add_completion=False, help="Encode curated JSONL into token shards.")


@shard_app.command()
def shard(
    curated: Path = typer.Argument(..., help="A curated .jsonl file or a folder of them."),
    tokenizer: Path = typer.Option(..., "--tokenizer", help="Folder holding tokenizer.json."),
    out: Path = typer.Option(..., "--out", help="Folder to write the shards into."),
    val_fraction: float = typer.Option(0.01, help="Share of documents held out (by id hash)."),
    shard_tokens: int = typer.Option(50_000_000, help="Tokens per shard file."),
) -> None:
    """Tokenize every document and write shards, a document index and meta.json to OUT."""
    from scalable_ai.data.tokenize import ShardConfig, write_shards
    from scalable_ai.runs import open_run

    config = ShardConfig(val_fraction=val_fraction, shard_tokens=shard_tokens)
    record = {"curated": curated, "tokenizer": tokenizer, "out": out, **config.__dict__}
    with open_run("data.shard", config=record) as run:
        meta = write_shards(curated, tokenizer, out, config)
        splits = meta["splits"]
        run.summary(
            train_tokens=splits["train"]["tokens"],
            val_tokens=splits["val"]["tokens"],
            train_documents=splits["train"]["documents"],
            val_documents=splits["val"]["documents"],
            dtype=meta["dtype"],
        )
    for name, split in splits.items():
        typer.echo(
            f"{name}: {split['tokens']:,} tokens, {split['documents']:,} documents, "
            f"{len(split['shards'])} shard(s)",
            err=True,
        )
    typer.echo(str(out))
