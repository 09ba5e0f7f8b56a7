"""Curation: normalize, deduplicate, filter and decontaminate a JSONL corpus, streaming.

The stages follow NeMo Curator's text pipeline (lecture 7) and Gopher's recipe (Rae et al.
2021), cheapest first so expensive ones see fewer documents:

1. **Unicode normalization** (NFC by default): one spelling per character, newlines as
   ``\\n``, control characters and trailing spaces removed, runs of blank lines collapsed.
2. **Exact dedup**: a 16-byte BLAKE2 digest of the normalized text; the first copy stays.
3. **Quality rules** (``quality.py``): length, word length, symbols, bullets, alphabetic
   words, stop words, repetition; each removal is charged to the first rule that failed.
4. **Decontamination** (``decontaminate.py``): n-gram overlap with evaluation texts.
5. **Near dedup** (``near_dedup.py``): MinHash + LSH with ``datasketch``.

Memory is bounded by the number of kept documents, not by the corpus's size: documents are
read, judged and written one at a time, and the only state is ~16 bytes per document for
exact dedup and ~1-2 KB per kept document for the MinHash index (measured in
``bench/RESULTS.md``). The report (documents and bytes in, removed per stage and rule, kept,
per source, throughput) is written as ``report.json`` and a bar chart ``report.png``, next
to the shards and into the run when one is given.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scalable_ai.data.decontaminate import ContaminationIndex, read_eval_texts
from scalable_ai.data.documents import (
    Document,
    ShardWriter,
    existing_shards,
    jsonl_files,
    read_documents,
)
from scalable_ai.data.near_dedup import DiskIndex, NearDedupSettings, NearDuplicateIndex
from scalable_ai.data.quality import RULES, QualitySettings, failed_rule
from scalable_ai.errors import UserError

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")
_BLANK_RUN = re.compile(r"\n{3,}")
NORMAL_FORMS = ("NFC", "NFKC", "none")


@dataclass(frozen=True)
class CurationSettings:
    """Every knob of curation; saved whole into the run so a result can be reproduced."""

    normalization: str = "NFC"
    exact_dedup: bool = True
    near_dedup: bool = True
    near_dedup_settings: NearDedupSettings = field(default_factory=NearDedupSettings)
    quality: bool = True
    quality_settings: QualitySettings = field(default_factory=QualitySettings)
    decontamination_ngram: int = 13
    shard_bytes: int = 64 << 20
    # "memory": Python sets and datasketch's in-memory LSH (fastest; a few KB per kept
    # document). "disk": the same state in a scratch SQLite file next to the output, so RAM
    # stays flat however large the corpus (for inputs whose index would not fit in RAM).
    dedup_index: str = "memory"

    def __post_init__(self) -> None:
        if self.normalization not in NORMAL_FORMS:
            raise UserError(f"must be one of {', '.join(NORMAL_FORMS)}", field="normalization")
        if self.dedup_index not in ("memory", "disk"):
            raise UserError("must be 'memory' or 'disk'", field="dedup_index")


def normalize(text: str, form: str = "NFC") -> str:
    """One spelling per character (Unicode ``form``), ``\\n`` line ends, no control
    characters, no trailing spaces, at most one blank line in a row, no outer whitespace."""
    if form != "none":
        text = unicodedata.normalize(form, text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _TRAILING_SPACE.sub("\n", text + "\n")
    return _BLANK_RUN.sub("\n\n", text).strip()


class _Tally:
    """Documents and bytes per outcome, overall and per source."""

    def __init__(self) -> None:
        self.documents: Counter[str] = Counter()
        self.bytes: Counter[str] = Counter()
        self.by_source: dict[str, Counter[str]] = defaultdict(Counter)

    def add(self, outcome: str, document: Document, size: int) -> None:
        self.documents[outcome] += 1
        self.bytes[outcome] += size
        self.by_source[document.source or "(none)"][outcome] += 1


class _ExactDigests:
    """The digests of documents seen so far, in a set or in the disk index."""

    def __init__(self, disk: DiskIndex | None) -> None:
        self.disk = disk
        self.memory: set[bytes] = set()

    def first_time(self, text: str) -> bool:
        digest = hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()
        if self.disk is not None:
            return self.disk.add_digest(digest)
        if digest in self.memory:
            return False
        self.memory.add(digest)
        return True


def _judge(
    text: str,
    settings: CurationSettings,
    seen: _ExactDigests,
    contamination: ContaminationIndex,
    near: NearDuplicateIndex | None,
) -> str:
    """The outcome for one normalized document: "kept" or the stage/rule that removed it."""
    if not text:
        return "empty"
    if settings.exact_dedup and not seen.first_time(text):
        return "exact_duplicate"
    if settings.quality:
        rule = failed_rule(text, settings.quality_settings)
        if rule is not None:
            return f"quality:{rule}"
    if contamination.contaminated(text):
        return "contaminated"
    if near is not None and near.is_duplicate(text):
        return "near_duplicate"
    return "kept"


def curate(
    inputs: Path | str | Iterable[Path | str],
    out_dir: Path | str,
    settings: CurationSettings | None = None,
    eval_paths: Iterable[Path | str] = (),
    eval_texts: Iterable[str] = (),
    run: Any = None,
    progress: bool = False,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Curate JSONL documents into ``out_dir/curated-NNNNN.jsonl``; return the report.

    ``inputs``: a JSONL file, a folder of ``*.jsonl`` or a list of them (``build_corpus``'s
    output). ``eval_paths``/``eval_texts``: evaluation text to decontaminate against.
    ``run``: an open :class:`scalable_ai.runs.Run` that receives the report, the chart and
    summary numbers. Raises :class:`UserError` for missing or corrupt input, for an output
    folder that already holds curated shards (unless ``overwrite``) and when nothing
    survives.
    """
    settings = settings or CurationSettings()
    files = jsonl_files(inputs)
    replaced = {path.resolve() for path in existing_shards(Path(out_dir), "curated")}
    if overwrite and replaced & {path.resolve() for path in files}:
        raise UserError(f"{out_dir} is both input and output", field="out")
    input_bytes_on_disk = sum(path.stat().st_size for path in files)
    contamination = ContaminationIndex(
        [*read_eval_texts(eval_paths), *eval_texts], settings.decontamination_ngram
    )
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    disk = DiskIndex(out_dir / ".dedup-index.sqlite") if settings.dedup_index == "disk" else None
    near = NearDuplicateIndex(settings.near_dedup_settings, disk) if settings.near_dedup else None
    seen = _ExactDigests(disk)
    tally = _Tally()
    started = time.perf_counter()
    with (
        ShardWriter(out_dir, "curated", settings.shard_bytes, overwrite) as writer,
        _ProgressBar(progress, input_bytes_on_disk) as advance,
        _closing(disk),
    ):
        for document in read_documents(files):
            size = len(document.text.encode("utf-8"))
            tally.add("input", document, size)
            text = normalize(document.text, settings.normalization)
            outcome = _judge(text, settings, seen, contamination, near)
            tally.add(outcome, document, size)
            if outcome == "kept":
                writer.write(Document(document.id, text, document.source))
            advance(size)
    seconds = time.perf_counter() - started
    if tally.documents["input"] == 0:
        raise UserError(f"no documents in {', '.join(map(str, files))}", field="input")
    report = _report(tally, settings, contamination, writer, seconds)
    _write_report(report, out_dir, run)
    if writer.documents == 0:
        raise UserError(
            f"every one of {tally.documents['input']} documents was removed "
            f"(see {out_dir / 'report.json'})",
            field="input",
        )
    return report


def _stage_order(outcome: str) -> int:
    """Outcomes in pipeline order (the report and chart read top to bottom like the stages)."""
    stages = [
        "empty",
        "exact_duplicate",
        *(f"quality:{name}" for name in RULES),
        "contaminated",
        "near_duplicate",
    ]
    return stages.index(outcome) if outcome in stages else len(stages)


def _report(
    tally: _Tally,
    settings: CurationSettings,
    contamination: ContaminationIndex,
    writer: ShardWriter,
    seconds: float,
) -> dict[str, Any]:
    removed = {
        k: {"documents": v, "bytes": tally.bytes[k]}
        for k, v in sorted(tally.documents.items(), key=lambda item: _stage_order(item[0]))
        if k not in {"input", "kept"}
    }
    input_mb = tally.bytes["input"] / 1e6
    return {
        "input": {"documents": tally.documents["input"], "bytes": tally.bytes["input"]},
        "kept": {
            "documents": tally.documents["kept"],
            "bytes": tally.bytes["kept"],
            "bytes_after_normalization": writer.bytes,
        },
        "removed": removed,
        "by_source": {source: dict(counts) for source, counts in sorted(tally.by_source.items())},
        "eval_texts": contamination.texts,
        "eval_texts_too_short": contamination.too_short,
        "shards": [path.name for path in writer.paths],
        "seconds": round(seconds, 3),
        "throughput_mb_per_s": round(input_mb / seconds, 3) if seconds > 0 else None,
        "settings": asdict(settings),
    }


def _write_report(report: dict[str, Any], out_dir: Path, run: Any) -> None:
    targets = [out_dir]
    if run is not None:
        targets.append(run.artifact("curation/report.json").parent)
        run.summary(
            curation_input_documents=report["input"]["documents"],
            curation_kept_documents=report["kept"]["documents"],
            curation_kept_bytes=report["kept"]["bytes_after_normalization"],
            curation_mb_per_s=report["throughput_mb_per_s"],
        )
    for folder in targets:
        (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n")
        plot_report(report, folder / "report.png")


def plot_report(report: dict[str, Any], out: Path) -> Path:
    """A horizontal bar chart: documents kept and removed by each stage or rule (MB noted)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [("kept", report["kept"]["documents"], report["kept"]["bytes"])]
    rows += [(name, row["documents"], row["bytes"]) for name, row in report["removed"].items()]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.5), dpi=110)
    colors = ["tab:green"] + ["tab:red"] * (len(rows) - 1)
    bars = ax.barh([r[0] for r in rows], [r[1] for r in rows], color=colors)
    for bar, (_, documents, size) in zip(bars, rows, strict=True):
        ax.text(
            bar.get_width(),
            bar.get_y() + bar.get_height() / 2,
            f" {documents:,} docs, {size / 1e6:.1f} MB",
            va="center",
            fontsize=8,
        )
    ax.invert_yaxis()
    ax.set_xlabel("documents")
    total = report["input"]
    ax.set_title(f"curation: {total['documents']:,} documents, {total['bytes'] / 1e6:.1f} MB in")
    ax.margins(x=0.35)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


@contextmanager
def _closing(disk: DiskIndex | None) -> Iterator[None]:
    try:
        yield
    finally:
        if disk is not None:
            disk.close()


class _ProgressBar:
    """A rich progress bar over input bytes when asked for, a no-op otherwise."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total = enabled, total
        self._progress: Any = None

    def __enter__(self) -> Callable[[int], None]:
        if not self.enabled:
            return lambda size: None
        from rich.progress import Progress

        self._progress = Progress(transient=True)
        self._progress.start()
        task = self._progress.add_task("curating", total=self.total)
        return lambda size: self._progress.advance(task, size)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
