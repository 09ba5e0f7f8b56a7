"""Documents on disk: JSONL shards of ``{"id", "text", "source"}``, one document per line.

Every data stage reads and writes this format (the pre-training contract with the shard
builder in ``data/tokenize.py``). Reading streams one line at a time, so a stage never
holds more than one document of its input; writing rolls over to a new shard at a size
limit so no file grows without bound. A corrupt line is an error naming the file and line,
not a traceback.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from scalable_ai.errors import UserError

SHARD_PATTERN = "{prefix}-{index:05d}.jsonl"


@dataclass(frozen=True)
class Document:
    """One document: a stable id, its text, and the source (blend member) it came from."""

    id: str
    text: str
    source: str

    def to_json(self) -> str:
        return json.dumps(
            {"id": self.id, "text": self.text, "source": self.source}, ensure_ascii=False
        )


def jsonl_files(inputs: Path | str | Iterable[Path | str]) -> list[Path]:
    """The ``*.jsonl`` files named by a file, a folder (its ``*.jsonl``, sorted) or a list."""
    items = [inputs] if isinstance(inputs, str | Path) else list(inputs)
    files: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_dir():
            found = sorted(path.glob("*.jsonl"))
            if not found:
                raise UserError(f"{path} holds no *.jsonl files", field="input")
            files.extend(found)
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{path} does not exist", field="input")
    if not files:
        raise UserError("no input files given", field="input")
    return files


def read_documents(inputs: Path | str | Iterable[Path | str]) -> Iterator[Document]:
    """Stream the documents of JSONL files, in file then line order.

    Blank lines are skipped; a line that is not a JSON object with a string ``text`` is a
    :class:`UserError` naming the file and line (a half-written file must not be silently
    curated into a smaller corpus).
    """
    for path in jsonl_files(inputs):
        with path.open("r", encoding="utf-8", errors="strict") as handle:
            line_number = 0
            try:
                for line_number, line in enumerate(handle, start=1):
                    if line.strip():
                        yield _parse(line, path, line_number)
            except UnicodeDecodeError as exc:
                raise UserError(
                    f"{path}: text after line {line_number} is not UTF-8 ({exc.reason})",
                    field="input",
                ) from None


def _parse(line: str, path: Path, line_number: int) -> Document:
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{line_number}: not JSON ({exc.msg})", field="input") from None
    if not isinstance(row, dict) or not isinstance(row.get("text"), str):
        raise UserError(f"{path}:{line_number}: needs a string field 'text'", field="input")
    return Document(
        id=str(row.get("id", f"{path.stem}:{line_number}")),
        text=row["text"],
        source=str(row.get("source", "")),
    )


def existing_shards(folder: Path, prefix: str) -> list[Path]:
    return sorted(Path(folder).glob(f"{prefix}-*.jsonl"))


class ShardWriter:
    """Writes documents to ``<prefix>-00000.jsonl``, ``-00001``... of at most ``shard_bytes``.

    Each shard is written under a temporary name and renamed when complete, so a crash
    never leaves a shard that looks finished but is cut short. A folder that already holds
    shards of this prefix is refused unless ``overwrite`` (then they are replaced).
    """

    def __init__(
        self, folder: Path, prefix: str, shard_bytes: int = 64 << 20, overwrite: bool = False
    ) -> None:
        if shard_bytes <= 0:
            raise UserError("must be positive", field="shard_bytes")
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        existing = existing_shards(self.folder, prefix)
        if existing and not overwrite:
            raise UserError(
                f"{self.folder} already holds {len(existing)} {prefix} shard(s); choose an "
                "empty folder or overwrite them (--overwrite)",
                field="out",
            )
        for path in existing:  # a smaller new output must not leave old shards behind
            path.unlink()
        self.prefix = prefix
        self.shard_bytes = shard_bytes
        self.paths: list[Path] = []
        self.documents = 0
        self.bytes = 0
        self._handle: IO[bytes] | None = None
        self._shard_size = 0

    def write(self, document: Document) -> None:
        line = (document.to_json() + "\n").encode("utf-8")
        if self._handle is None or self._shard_size + len(line) > self.shard_bytes:
            self._roll()
        assert self._handle is not None
        self._handle.write(line)
        self._shard_size += len(line)
        self.documents += 1
        self.bytes += len(document.text.encode("utf-8"))

    def _roll(self) -> None:
        self._close_shard()
        path = self.folder / SHARD_PATTERN.format(prefix=self.prefix, index=len(self.paths))
        self.paths.append(path)
        self._handle = path.with_suffix(".jsonl.partial").open("wb")
        self._shard_size = 0

    def _close_shard(self) -> None:
        if self._handle is not None:
            self._handle.close()
            partial = Path(self._handle.name)
            partial.replace(partial.with_name(partial.name.removesuffix(".partial")))
            self._handle = None

    def close(self) -> list[Path]:
        self._close_shard()
        return self.paths

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, kind: object, *exc: object) -> None:
        if kind is not None and self._handle is not None:  # failed mid-shard: no torn shard
            self._handle.close()
            Path(self._handle.name).unlink(missing_ok=True)
            self.paths.pop()
            self._handle = None
        self.close()
