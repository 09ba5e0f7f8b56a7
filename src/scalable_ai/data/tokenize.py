"""Encode curated documents into memory-mapped token shards (the trainer's input).

A shard folder is what a person can open with NumPy alone::

    meta.json                 tokenizer hash and vocabulary, dtype, per-split/per-shard counts
    train-00000.npy           tokens of many documents, back to back (uint16 or uint32)
    train-00000.docs.npy      uint64 document starts within that shard, plus its length
    val-00000.npy ...         the held-out split, chosen by a hash of each document's id

Every document ends with the tokenizer's end-of-text token, so a sequence that crosses a
boundary still shows the model where one text stops (GPT-2 and nanoGPT pack the same way).
Tokens are uint16 when the vocabulary fits (< 65,536 ids: half the disk and page cache of
int32), else uint32. Files are written beside their final name and renamed, and
``meta.json`` is written last: a folder with a ``meta.json`` is complete.

Reading checks what can go wrong cheaply (a missing, truncated or foreign file, a count that
disagrees with ``meta.json``) and, for small folders, each file's SHA-256; a tokenizer
is compared by the hash of its canonical serialization, so re-saving it does not count as
a change.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from scalable_ai.errors import UserError

META_FILE = "meta.json"
FORMAT = "scalable-ai-token-shards"
VERSION = 1
SPLITS = ("train", "val")
# Hash-verify shards on open when the folder is at most this big (GPT-2-scale data skips it).
VERIFY_LIMIT_BYTES = 1 << 30
END_OF_TEXT = ("<|endoftext|>", "<|im_end|>", "</s>", "<eos>")


# ---- tokenizers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenizerIdentity:
    """What shards remember of the tokenizer that made them."""

    sha256: str
    vocab_size: int
    eos_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "vocab_size": self.vocab_size, "eos_id": self.eos_id}


def load_tokenizer(path: str | Path) -> Any:
    """Our :class:`~scalable_ai.model.tokenizer.Tokenizer` from a folder holding
    ``tokenizer.json`` (any Hugging Face ``tokenizers`` file), or that file itself."""
    from scalable_ai.model.tokenizer import TOKENIZER_FILE, Tokenizer

    path = Path(path).expanduser()
    folder = path.parent if path.name == TOKENIZER_FILE else path
    if not (folder / TOKENIZER_FILE).is_file():
        raise UserError(f"{folder}: no {TOKENIZER_FILE} here", field="tokenizer")
    try:
        return Tokenizer.load(folder)
    except Exception as exc:  # the Rust parser's message says what is wrong with the file
        raise UserError(
            f"{folder / TOKENIZER_FILE}: not a tokenizers file ({exc})", field="tokenizer"
        ) from None


def tokenizer_identity(tokenizer: Any) -> TokenizerIdentity:
    """Hash of the canonical JSON of the tokenizer (vocabulary, merges, pre-tokenizer...)."""
    canonical = tokenizer.backend.to_str()
    eos = tokenizer.eos_id
    if eos is None:
        eos = next((i for t in END_OF_TEXT if (i := tokenizer.token_id(t)) is not None), None)
    return TokenizerIdentity(
        hashlib.sha256(canonical.encode()).hexdigest(), tokenizer.vocab_size, eos
    )


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 2**16 else np.dtype(np.uint32)


# ---- reading curated JSONL ------------------------------------------------------------------


def curated_files(source: str | Path) -> list[Path]:
    """The JSONL files of a curated corpus: one file, or every ``*.jsonl[.gz]`` in a folder."""
    source = Path(source).expanduser()
    if source.is_file():
        return [source]
    if source.is_dir():
        files = sorted(p for p in source.rglob("*") if p.name.endswith((".jsonl", ".jsonl.gz")))
        if files:
            return files
        raise UserError(f"{source}: no .jsonl files in this folder", field="curated")
    raise UserError(f"{source}: no such file or folder", field="curated")


def read_documents(files: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Yield ``{"id", "text", "source"}`` records; a malformed line names its file and line."""
    for path in files:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as handle:
            assert isinstance(handle, io.TextIOBase)
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(
                        f"{path}:{number}: not JSON ({exc.msg})", field="curated"
                    ) from None
                if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                    raise UserError(
                        f"{path}:{number}: needs a string field 'text'", field="curated"
                    )
                record.setdefault("id", f"{path.name}:{number}")
                yield record


def is_validation(document_id: str, val_fraction: float) -> bool:
    """A stable split: the same id lands in the same split whatever the file order."""
    digest = hashlib.blake2b(str(document_id).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") / 2**64 < val_fraction


# ---- writing shards -----------------------------------------------------------------------


@dataclass
class _SplitWriter:
    """Buffers one split's tokens and writes a shard each time ``shard_tokens`` is reached."""

    folder: Path
    split: str
    dtype: np.dtype
    shard_tokens: int
    pieces: list[np.ndarray] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    buffered: int = 0
    shards: list[dict[str, Any]] = field(default_factory=list)

    def add(self, ids: list[int]) -> None:
        self.starts.append(self.buffered)
        self.pieces.append(np.asarray(ids, dtype=self.dtype))
        self.buffered += len(ids)
        if self.buffered >= self.shard_tokens:
            self.flush()

    def flush(self) -> None:
        if not self.buffered:
            return
        name = f"{self.split}-{len(self.shards):05d}"
        tokens = np.concatenate(self.pieces)
        starts = np.asarray([*self.starts, self.buffered], dtype=np.uint64)
        token_file, docs_file = f"{name}.npy", f"{name}.docs.npy"
        self.shards.append(
            {
                "file": token_file,
                "documents_file": docs_file,
                "tokens": int(tokens.size),
                "documents": len(self.starts),
                "sha256": _save_atomic(self.folder / token_file, tokens),
                "documents_sha256": _save_atomic(self.folder / docs_file, starts),
            }
        )
        self.pieces, self.starts, self.buffered = [], [], 0

    def summary(self) -> dict[str, Any]:
        return {
            "tokens": sum(s["tokens"] for s in self.shards),
            "documents": sum(s["documents"] for s in self.shards),
            "shards": self.shards,
        }


def _save_atomic(path: Path, array: np.ndarray) -> str:
    """np.save beside the final name, then rename; returns the file's SHA-256."""
    staging = path.with_name(path.name + ".tmp")
    with open(staging, "wb") as handle:
        np.save(handle, array, allow_pickle=False)
    staging.replace(path)
    return file_sha256(path)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass
class ShardConfig:
    """``sai data shard`` settings."""

    val_fraction: float = 0.01
    shard_tokens: int = 50_000_000  # ~100 MB of uint16 per file: many files stream in parallel
    batch_documents: int = 512  # documents per encode_batch call (tokenizers runs them in threads)


def write_shards(
    curated: str | Path,
    tokenizer_path: str | Path,
    out: str | Path,
    config: ShardConfig | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Encode every document of ``curated`` into ``out`` and return the written ``meta.json``."""
    config = config or ShardConfig()
    if not 0.0 <= config.val_fraction < 1.0:
        raise UserError("must be in [0, 1)", field="val_fraction")
    files = curated_files(curated)
    tokenizer = load_tokenizer(tokenizer_path)
    identity = tokenizer_identity(tokenizer)
    out = Path(out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    (out / META_FILE).unlink(missing_ok=True)  # incomplete until the new meta is written
    dtype = token_dtype(identity.vocab_size)
    writers = {s: _SplitWriter(out, s, dtype, config.shard_tokens) for s in SPLITS}
    sources: dict[str, int] = {}
    total_bytes = sum(p.stat().st_size for p in files)
    with _progress(progress, total_bytes) as advance:
        batch: list[dict[str, Any]] = []
        for record in read_documents(files):
            batch.append(record)
            if len(batch) >= config.batch_documents:
                advance(_encode_batch(batch, tokenizer, identity, writers, sources, config))
                batch = []
        advance(_encode_batch(batch, tokenizer, identity, writers, sources, config))
    for writer in writers.values():
        writer.flush()
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "dtype": dtype.name,
        "tokenizer": {**identity.as_dict(), "path": str(Path(tokenizer_path).expanduser())},
        "splits": {s: w.summary() for s, w in writers.items()},
        "sources": sources,
        "input": [str(p) for p in files],
        "val_fraction": config.val_fraction,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    staging = out / (META_FILE + ".tmp")
    staging.write_text(json.dumps(meta, indent=2) + "\n")
    staging.replace(out / META_FILE)
    return meta


def _encode_batch(
    batch: list[dict[str, Any]],
    tokenizer: Any,
    identity: TokenizerIdentity,
    writers: dict[str, _SplitWriter],
    sources: dict[str, int],
    config: ShardConfig,
) -> int:
    if not batch:
        return 0
    encodings = tokenizer.backend.encode_batch([r["text"] for r in batch], add_special_tokens=False)
    for record, encoding in zip(batch, encodings, strict=True):
        ids = encoding.ids
        if identity.eos_id is not None:
            ids = [*ids, identity.eos_id]
        if not ids:
            continue
        split = "val" if is_validation(record["id"], config.val_fraction) else "train"
        writers[split].add(ids)
        source = str(record.get("source", "unknown"))
        sources[source] = sources.get(source, 0) + 1
    return sum(len(r["text"].encode()) for r in batch)


class _progress:
    """A rich bar over input bytes (or nothing), as a context manager yielding ``advance``."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total = enabled, total

    def __enter__(self):  # type: ignore[no-untyped-def]
        if not self.enabled:
            return lambda n: None
        from rich.progress import Progress

        self.bar = Progress(transient=True)
        self.bar.start()
        task = self.bar.add_task("tokenizing", total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.bar.stop()
