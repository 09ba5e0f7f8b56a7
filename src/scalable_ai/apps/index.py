"""A persistent, embedded retrieval index: one SQLite file with chunks and their vectors.

Vectors live in a ``sqlite-vec`` ``vec0`` table beside the chunk rows, so a document, its
chunks and its vectors change in one transaction (a crash never leaves a chunk without its
vector) and the whole index is one file to copy. Python's own ``sqlite3`` may be built
without extension loading (pyenv's is), so the file is opened with ``apsw``, which ships an
SQLite that loads extensions. ``vec0`` searches exactly (a flat scan in C): for the
thousands of chunks of a course's documents that is a millisecond or two (``bench/rag.py``
measures it against a numpy scan), and exact search has no recall loss to explain.

Re-indexing is incremental: a document whose bytes hash the same as when it was indexed is
skipped; a changed one has its chunks and vectors replaced; ``prune`` drops documents that
are gone. Keyword search (BM25) is rebuilt from the chunk table on open: bm25s indexes a few
thousand chunks in milliseconds, so there is no second file to keep in step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from scalable_ai.apps.ingest import Chunk, Document
from scalable_ai.errors import UserError

SCHEMA = """
create table if not exists meta (key text primary key, value text not null);
create table if not exists documents (
    id integer primary key, source text unique not null, content_hash text not null,
    title text not null, kind text not null, indexed_at text not null);
create table if not exists chunks (
    id integer primary key, document_id integer not null references documents(id),
    ordinal integer not null, section text not null, text text not null,
    tokens integer not null);
create index if not exists chunks_by_document on chunks(document_id);
"""

Embed = Callable[[list[str]], np.ndarray]


@cache
def _stemmer() -> object:
    """Snowball's English stemmer (PyStemmer): "days" matches "day", "deadlines" "deadline"."""
    import Stemmer

    return Stemmer.Stemmer("english")


@dataclass(frozen=True)
class StoredChunk:
    id: int
    source: str
    title: str
    section: str
    ordinal: int
    text: str
    tokens: int

    @property
    def citation(self) -> str:
        return f"{self.source} § {self.section}" if self.section else self.source


@dataclass
class IndexReport:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    chunks: int = 0


class ChunkIndex:
    """The index file at ``path``; ``embedding_model`` is fixed when the file is created
    (vectors of two models are not comparable, so opening with another one is refused)."""

    def __init__(self, path: Path, embedding_model: str, dimensions: int | None = None) -> None:
        import apsw
        import sqlite_vec

        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db: Any = apsw.Connection(str(path))  # rows are plain tuples of SQLite values
        self.db.enable_load_extension(True)
        self.db.load_extension(sqlite_vec.loadable_path())
        self.db.enable_load_extension(False)
        self.db.execute("pragma foreign_keys = on")
        with self.db:
            self.db.execute(SCHEMA)
        stored = self.meta("embedding_model")
        if stored is not None and stored != embedding_model:
            raise UserError(
                f"{path} was built with {stored!r}, not {embedding_model!r}: "
                "use that model or a new index file",
                field="embedding_model",
            )
        self.embedding_model = embedding_model
        known = self.meta("dimensions")
        self.dimensions = int(known) if known else dimensions
        self._bm25: tuple[Any, list[int]] | None = None

    def meta(self, key: str) -> str | None:
        row = self.db.execute("select value from meta where key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self.db.execute("insert or replace into meta(key, value) values (?, ?)", (key, value))

    def _ensure_vector_table(self, dimensions: int) -> None:
        if self.meta("dimensions") is None:
            self.db.execute(
                f"create virtual table if not exists vec_chunks using vec0("
                f"embedding float[{int(dimensions)}] distance_metric=cosine)"
            )
            self._set_meta("dimensions", str(dimensions))
            self._set_meta("embedding_model", self.embedding_model)
            self.dimensions = dimensions

    # writing ---------------------------------------------------------------------------

    def stored_hash(self, source: str) -> str | None:
        row = self.db.execute(
            "select content_hash from documents where source = ?", (source,)
        ).fetchone()
        return None if row is None else str(row[0])

    def put(self, document: Document, chunks: list[Chunk], embed: Embed) -> str:
        """Index one document: ``"unchanged"`` (same hash), ``"added"`` or ``"updated"``."""
        before = self.stored_hash(document.source)
        if before == document.content_hash:
            return "unchanged"
        vectors = embed([c.text for c in chunks]) if chunks else np.zeros((0, 1), np.float32)
        with self.db:  # one transaction: the old chunks go only if the new ones land
            if chunks:
                self._ensure_vector_table(int(vectors.shape[1]))
            self._delete(document.source)
            self.db.execute(
                "insert into documents(source, content_hash, title, kind, indexed_at) "
                "values (?, ?, ?, ?, ?)",
                (document.source, document.content_hash, document.title, document.kind,
                 datetime.now(UTC).isoformat(timespec="seconds")),
            )  # fmt: skip
            document_id = self.db.last_insert_rowid()
            for chunk, vector in zip(chunks, vectors, strict=True):
                self.db.execute(
                    "insert into chunks(document_id, ordinal, section, text, tokens) "
                    "values (?, ?, ?, ?, ?)",
                    (document_id, chunk.ordinal, chunk.section, chunk.text, chunk.tokens),
                )
                self.db.execute(
                    "insert into vec_chunks(rowid, embedding) values (?, ?)",
                    (self.db.last_insert_rowid(), np.asarray(vector, np.float32).tobytes()),
                )
        self._bm25 = None
        return "added" if before is None else "updated"

    def _delete(self, source: str) -> bool:
        row = self.db.execute("select id from documents where source = ?", (source,)).fetchone()
        if row is None:
            return False
        if self.meta("dimensions") is not None:
            self.db.execute(
                "delete from vec_chunks where rowid in "
                "(select id from chunks where document_id = ?)",
                (row[0],),
            )
        self.db.execute("delete from chunks where document_id = ?", (row[0],))
        self.db.execute("delete from documents where id = ?", (row[0],))
        return True

    def prune(self, keep: Iterable[str]) -> int:
        """Remove every document whose source is not in ``keep``; how many went."""
        wanted = set(keep)
        gone = [s for s in self.sources() if s not in wanted]
        with self.db:
            for source in gone:
                self._delete(source)
        if gone:
            self._bm25 = None
        return len(gone)

    # reading ---------------------------------------------------------------------------

    def sources(self) -> list[str]:
        return [str(r[0]) for r in self.db.execute("select source from documents order by id")]

    def count(self) -> int:
        return int(self.db.execute("select count(*) from chunks").fetchone()[0])

    def chunks(self, ids: list[int] | None = None) -> list[StoredChunk]:
        query = (
            "select c.id, d.source, d.title, c.section, c.ordinal, c.text, c.tokens "
            "from chunks c join documents d on d.id = c.document_id"
        )
        if ids is None:
            rows = self.db.execute(query + " order by c.id").fetchall()
            return [StoredChunk(*row) for row in rows]
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(query + f" where c.id in ({marks})", tuple(ids)).fetchall()
        by_id = {row[0]: StoredChunk(*row) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def vector_search(self, vector: np.ndarray, k: int) -> list[tuple[int, float]]:
        """The ``k`` nearest chunks by cosine distance: (chunk id, distance), nearest first."""
        if self.meta("dimensions") is None or k <= 0:
            return []
        rows = self.db.execute(
            "select rowid, distance from vec_chunks where embedding match ? and k = ? "
            "order by distance",
            (np.asarray(vector, np.float32).tobytes(), int(k)),
        ).fetchall()
        return [(int(r[0]), float(r[1])) for r in rows]

    def keyword_search(self, query: str, k: int) -> list[tuple[int, float]]:
        """BM25 (Robertson & Zaragoza, 2009) over the chunk texts via ``bm25s``: (chunk id,
        score), best first; chunks sharing no term with the query are left out."""
        import bm25s

        if self._bm25 is None:
            rows = self.db.execute("select id, text from chunks order by id").fetchall()
            retriever = bm25s.BM25()
            if rows:
                tokens = bm25s.tokenize(
                    [r[1] for r in rows], stopwords="en", stemmer=_stemmer(), show_progress=False
                )
                retriever.index(tokens, show_progress=False)
            self._bm25 = (retriever, [int(r[0]) for r in rows])
        retriever, ids = self._bm25
        if not ids:
            return []
        query_tokens = bm25s.tokenize(
            [query], stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False
        )
        if not query_tokens[0]:
            return []
        found, scores = retriever.retrieve(
            query_tokens, k=min(k, len(ids)), show_progress=False, n_threads=1
        )
        return [(ids[int(i)], float(s)) for i, s in zip(found[0], scores[0], strict=True) if s > 0]

    def close(self) -> None:
        self.db.close()
