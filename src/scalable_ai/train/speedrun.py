"""``sai speedrun``: the whole pre-training lifecycle in one command, with a report card.

corpus (Debian text, ``data/corpus.py``) → curate (``data/curate.py``) → tokenizer (byte-level
BPE, ``data/bpe.py``) → shards (``data/tokenize.py``) → pretrain (``train/trainer.py``, with
validation and a greedy sample) → the checkpoint path and the one command that serves it.
Like nanochat's ``speedrun.sh``, but each stage is a library call, the stage outputs are
folders a person can open (under ``$SAI_DATA_DIR/speedrun/<preset>/``), and the report card
is the run's summary: seconds per stage, documents, tokens, losses against the unigram
baseline.

``--preset tiny`` is sized to finish in under 15 minutes on 2 CPU cores; the trained model
must beat the unigram baseline's validation loss by ``UNIGRAM_MARGIN`` nats per token.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from scalable_ai.errors import UserError

speedrun_app = typer.Typer(add_completion=False, help="Corpus to served model in one command.")

# Nats per token the tiny model's validation loss must land below the unigram baseline's.
UNIGRAM_MARGIN = 1.0


@dataclass
class SpeedrunSettings:
    """The data stages' knobs; the model and loop come from the training preset."""

    preset: str = "tiny"
    corpus_mb: float = 20.0  # text taken from the Debian blend before curation
    blend: str = "en-docs"
    vocab_size: int = 4096
    val_fraction: float = 0.01
    corpus: str = ""  # a JSONL file/folder of your own instead of the Debian blend
    out: str = ""  # stage folders; empty: $SAI_DATA_DIR/speedrun/<preset>
    reuse: bool = False  # keep stage outputs that already exist (re-run only what is missing)


def stage_folder(settings: SpeedrunSettings) -> Path:
    if settings.out:
        return Path(settings.out).expanduser()
    from scalable_ai.settings import get_settings

    return get_settings().data_dir / "speedrun" / settings.preset


def run_stages(settings: SpeedrunSettings, overrides: list[str], run: Any) -> dict[str, Any]:
    """Every stage in order; returns the report card (also written to the run)."""
    from scalable_ai.data.tokenize import META_FILE, ShardConfig, write_shards

    folder = stage_folder(settings)
    card: dict[str, Any] = {"stages": {}}

    def stage(name: str, output: Path, work: Callable[[], Any], done: str = "") -> None:
        if settings.reuse and (output / done).exists() and done:
            card["stages"][name] = {"seconds": 0.0, "reused": str(output)}
            return
        started, cpu = time.perf_counter(), time.process_time()
        result = work()
        seconds = round(time.perf_counter() - started, 1)
        card["stages"][name] = {
            "seconds": seconds,
            "cpu_seconds": round(time.process_time() - cpu, 1),
            "output": str(output),
            **(result if isinstance(result, dict) else {}),
        }
        typer.echo(f"{name:10} {seconds:7.1f} s  {output}", err=True)

    corpus = Path(settings.corpus).expanduser() if settings.corpus else folder / "corpus"
    if not settings.corpus:
        stage("corpus", corpus, lambda: _corpus(settings, corpus), "manifest.json")
    curated = folder / "curated"
    stage("curate", curated, lambda: _curate(corpus, curated, run), "report.json")
    tokenizer = folder / "tokenizer"
    stage(
        "tokenizer", tokenizer, lambda: _tokenizer(settings, curated, tokenizer), "tokenizer.json"
    )
    shards = folder / "shards"
    shard_config = ShardConfig(val_fraction=settings.val_fraction)
    stage(
        "shard",
        shards,
        lambda: _counts(write_shards(curated, tokenizer, shards, shard_config)),
        META_FILE,
    )
    started, cpu = time.perf_counter(), time.process_time()
    result = _pretrain(settings, shards, tokenizer, overrides, run)
    card["stages"]["pretrain"] = {
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_seconds": round(time.process_time() - cpu, 1),
        "steps": result.steps,
        "tokens": result.tokens,
    }
    margin = (
        result.unigram_val_loss - result.val_loss if result.unigram_val_loss is not None else None
    )
    card.update(
        val_loss=result.val_loss,
        unigram_val_loss=result.unigram_val_loss,
        margin_nats=margin,
        required_margin_nats=UNIGRAM_MARGIN,
        beats_unigram=margin is not None and margin >= UNIGRAM_MARGIN,
        sample=result.sample,
        checkpoint=str(result.checkpoint),
        serve=f"sai serve {result.checkpoint}",
    )
    card["seconds"] = round(sum(s["seconds"] for s in card["stages"].values()), 1)
    run.summary(report_card=card)
    return card


def _corpus(settings: SpeedrunSettings, out: Path) -> dict[str, Any]:
    from scalable_ai.data.corpus import build_corpus

    # A stage that runs again replaces its own earlier output (``--reuse`` keeps it instead).
    manifest = build_corpus(
        out, blend=settings.blend, max_bytes=int(settings.corpus_mb * 1e6), overwrite=True
    )
    return {"documents": manifest["documents"], "bytes": manifest["bytes"]}


def _curate(corpus: Path, out: Path, run: Any) -> dict[str, Any]:
    from scalable_ai.data.curate import curate

    report = curate(corpus, out, run=run, progress=True, overwrite=True)
    return {
        "documents": report["kept"]["documents"],
        "bytes": report["kept"]["bytes"],
        "input_documents": report["input"]["documents"],
    }


def _tokenizer(settings: SpeedrunSettings, curated: Path, out: Path) -> dict[str, Any]:
    from scalable_ai.data.bpe import train_tokenizer

    train_tokenizer(curated, settings.vocab_size, out, held_out_fraction=settings.val_fraction)
    return {"vocab_size": settings.vocab_size}


def _counts(meta: dict[str, Any]) -> dict[str, Any]:
    return {f"{split}_tokens": meta["splits"][split]["tokens"] for split in meta["splits"]}


def _pretrain(
    settings: SpeedrunSettings, shards: Path, tokenizer: Path, overrides: list[str], run: Any
) -> Any:
    from scalable_ai.config import to_dict
    from scalable_ai.train.config import load_train_config
    from scalable_ai.train.trainer import Trainer

    config = load_train_config(
        preset=settings.preset,
        overrides=[
            f"data.shards={shards}",
            f"data.tokenizer={tokenizer}",
            f"model.vocab_size={settings.vocab_size}",
            *overrides,
        ],
    )
    run.record["config"]["train"] = to_dict(config)
    return Trainer(config, run).fit()


@speedrun_app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def speedrun(
    context: typer.Context,
    preset: str = typer.Option("tiny", help="Training preset (tiny fits 2 CPU cores)."),
    corpus_mb: float = typer.Option(20.0, help="MB of Debian text to start from."),
    vocab_size: int = typer.Option(4096, help="BPE vocabulary size (ids)."),
    val_fraction: float = typer.Option(0.01, help="Share of documents held out for validation."),
    corpus: str = typer.Option("", help="Your own JSONL file/folder instead of the blend."),
    out: str = typer.Option("", help="Where stage folders go ($SAI_DATA_DIR/speedrun/PRESET)."),
    reuse: bool = typer.Option(False, help="Keep stage outputs that already exist."),
) -> None:
    """corpus → curate → tokenizer → shards → pretrain → sample; prints the checkpoint.

    Training fields can be changed as in `sai train`: --train.steps 100 --optim.name muon.
    """
    from scalable_ai.config import parse_override_args
    from scalable_ai.runs import open_run

    settings = SpeedrunSettings(
        preset=preset,
        corpus_mb=corpus_mb,
        vocab_size=vocab_size,
        corpus=corpus,
        out=out,
        reuse=reuse,
    )
    if corpus_mb <= 0:
        raise UserError("must be positive", field="corpus_mb")
    overrides = parse_override_args(list(context.args))
    with open_run("speedrun", config={"speedrun": settings, "overrides": overrides}) as run:
        card = run_stages(settings, overrides, run)
    typer.echo(f"\nreport card (run {run.id}, {card['seconds']} s):", err=True)
    for name, row in card["stages"].items():
        cpu = row.get("cpu_seconds", 0.0)
        typer.echo(f"  {name:10} {row['seconds']:7.1f} s wall {cpu:7.1f} s CPU", err=True)
    verdict = "beats" if card["beats_unigram"] else "does NOT beat"
    typer.echo(
        f"validation loss {card['val_loss']:.3f} vs unigram baseline "
        f"{card['unigram_val_loss']:.3f}: {verdict} it by the required "
        f"{UNIGRAM_MARGIN} nat/token (margin {card['margin_nats']:.3f})",
        err=True,
    )
    typer.echo(f"sample: {card['sample']!r}", err=True)
    typer.echo(f"checkpoint: {card['checkpoint']}", err=True)
    typer.echo(f"serve it:   {card['serve']}", err=True)
    typer.echo(card["checkpoint"])
    if not card["beats_unigram"]:
        raise typer.Exit(1)
