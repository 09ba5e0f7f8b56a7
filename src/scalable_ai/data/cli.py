"""``sai data corpus``, ``sai data curate`` and ``sai tokenizer train``: thin wrappers that
call the library and record a run."""

from __future__ import annotations

from pathlib import Path

import typer

corpus_app = typer.Typer(add_completion=False, help="Extract a blend of Debian text to JSONL.")
curate_app = typer.Typer(add_completion=False, help="Curate JSONL documents.")
tokenizer_train_app = typer.Typer(add_completion=False, help="Train a byte-level BPE tokenizer.")


@corpus_app.command()
def corpus(
    out: Path = typer.Option(..., "--out", help="Folder to write corpus-NNNNN.jsonl into."),
    blend: str = typer.Option("en-docs", "--blend", help="Named blend (see docs/data.md)."),
    max_mb: float = typer.Option(None, "--max-mb", help="Cap on the text taken, in MB."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace shards already in OUT."),
) -> None:
    """Extract the blend's documents from installed Debian packages into JSONL."""
    from scalable_ai.data.corpus import build_corpus
    from scalable_ai.runs import open_run

    max_bytes = None if max_mb is None else int(max_mb * 1e6)
    with open_run(
        "data.corpus", config={"blend": blend, "max_bytes": max_bytes, "out": out}
    ) as run:
        manifest = build_corpus(out, blend=blend, max_bytes=max_bytes, overwrite=overwrite)
        run.summary(documents=manifest["documents"], bytes=manifest["bytes"])
    for name, source in manifest["sources"].items():
        typer.echo(
            f"{name:12} {source['documents']:>7,} documents {source['bytes'] / 1e6:8.1f} MB"
            f"  ({source['package']}; {source['license']})",
            err=True,
        )
    typer.echo(str(out))


@curate_app.command()
def curate(
    inputs: list[Path] = typer.Argument(..., help="JSONL files or folders of them."),
    out: Path = typer.Option(..., "--out", help="Folder to write curated-NNNNN.jsonl into."),
    eval_files: list[Path] = typer.Option(
        [], "--eval", help="Evaluation text to decontaminate against (.txt, .json, .jsonl)."
    ),
    threshold: float = typer.Option(0.8, help="MinHash Jaccard similarity of a near-duplicate."),
    permutations: int = typer.Option(128, help="MinHash permutations."),
    ngram: int = typer.Option(13, help="Word n-gram length for decontamination."),
    normalization: str = typer.Option("NFC", help="Unicode form: NFC, NFKC or none."),
    no_near_dedup: bool = typer.Option(False, "--no-near-dedup", help="Skip MinHash dedup."),
    no_quality: bool = typer.Option(False, "--no-quality", help="Skip the quality rules."),
    dedup_index: str = typer.Option(
        "memory", help="Where dedup state lives: memory, or disk (flat RAM for huge inputs)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace shards already in OUT."),
) -> None:
    """Normalize, deduplicate, filter and decontaminate; write shards and a report."""
    from scalable_ai.data.curate import CurationSettings
    from scalable_ai.data.curate import curate as run_curation
    from scalable_ai.data.near_dedup import NearDedupSettings
    from scalable_ai.runs import open_run

    settings = CurationSettings(
        normalization=normalization,
        near_dedup=not no_near_dedup,
        near_dedup_settings=NearDedupSettings(threshold=threshold, num_perm=permutations),
        quality=not no_quality,
        decontamination_ngram=ngram,
        dedup_index=dedup_index,
    )
    config = {"inputs": inputs, "out": out, "eval": eval_files, "settings": settings}
    with open_run("data.curate", config=config) as run:
        report = run_curation(
            inputs,
            out,
            settings,
            eval_paths=eval_files,
            run=run,
            progress=True,
            overwrite=overwrite,
        )
    total, kept = report["input"], report["kept"]
    typer.echo(
        f"kept {kept['documents']:,} of {total['documents']:,} documents "
        f"({kept['bytes'] / 1e6:.1f} of {total['bytes'] / 1e6:.1f} MB) "
        f"at {report['throughput_mb_per_s']} MB/s; run {run.id}",
        err=True,
    )
    for name, row in report["removed"].items():
        typer.echo(f"  removed by {name:40} {row['documents']:>7,}", err=True)
    typer.echo(str(out))


@tokenizer_train_app.command()
def train(
    corpus: Path = typer.Argument(..., help="Curated JSONL file or folder."),
    vocab_size: int = typer.Option(..., "--vocab-size", help="Vocabulary size (ids)."),
    out: Path = typer.Option(..., "--out", help="Folder to write tokenizer.json into."),
    held_out_fraction: float = typer.Option(
        0.01, help="Share of documents (by id hash) kept out of training, to measure on."
    ),
    min_frequency: int = typer.Option(2, help="A pair must occur this often to be merged."),
    compare: bool = typer.Option(
        True, help="Measure GPT-2's and SmolLM2's bytes per token too (loading them takes ~10 s)."
    ),
) -> None:
    """Train byte-level BPE; compare bytes per token with GPT-2 and SmolLM2 on held-out text."""
    from scalable_ai.data.bpe import compression_table, held_out_texts, train_tokenizer
    from scalable_ai.model.tokenizer import Tokenizer
    from scalable_ai.runs import open_run

    config = {
        "corpus": corpus,
        "vocab_size": vocab_size,
        "out": out,
        "held_out_fraction": held_out_fraction,
        "min_frequency": min_frequency,
    }
    with open_run("tokenizer.train", config=config) as run:
        train_tokenizer(
            corpus,
            vocab_size,
            out,
            min_frequency=min_frequency,
            held_out_fraction=held_out_fraction,
            progress=True,
        )
        held_out = held_out_texts(corpus, held_out_fraction)
        table = compression_table(Tokenizer.load(out), held_out, others=compare) if held_out else {}
        import json

        run.artifact("compression.json").write_text(json.dumps(table, indent=2) + "\n")
        run.summary(
            vocab_size=vocab_size,
            **{
                f"bytes_per_token_{name}": row["bytes_per_token"]
                for name, row in table.items()
                if "bytes_per_token" in row
            },
        )
    for name, row in table.items():
        shown = row.get("bytes_per_token", row.get("missing"))
        typer.echo(f"{name:8} bytes/token on held-out text: {shown}", err=True)
    typer.echo(str(out))
