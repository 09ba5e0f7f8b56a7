"""Near-duplicate detection: MinHash signatures and LSH banding, with ``datasketch``.

Broder (1997) showed that the probability two MinHash values agree equals the Jaccard
similarity of the two shingle sets; LSH (Indyk & Motwani 1998; Leskovec et al., *Mining of
Massive Datasets*, ch. 3) splits a ``num_perm``-value signature into ``b`` bands of ``r``
rows, so a pair with similarity ``s`` collides in some band with probability
``1 - (1 - s^r)^b``, an S-curve around ``threshold``. ``datasketch``'s ``MinHashLSH``
picks ``b`` and ``r`` for the threshold; we then check each candidate's estimated
similarity against the threshold, which removes most of the banding's false positives.

Shingles are word n-grams of the lowercased text (as in datatrove and text-dedup). A
document is a near-duplicate when it resembles one kept earlier in the stream: the first
copy stays.

Memory: per kept document the index holds its band keys and a ``num_perm``-value
signature (uint32), about 1-2 KB at 128 permutations whatever the document's length; the
text itself is never held.
"""

from __future__ import annotations

import re
import sqlite3
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from datasketch import MinHash, MinHashLSH

from scalable_ai.errors import UserError

_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class NearDedupSettings:
    """MinHash + LSH settings: the similarity that counts as a duplicate, and its cost."""

    threshold: float = 0.8
    num_perm: int = 128
    # datasketch weighs missed duplicates against false candidates when it picks bands and
    # rows; candidates are verified against the threshold afterwards, so a false candidate
    # costs one comparison while a missed duplicate stays in the corpus: favour recall
    # (at 0.9 and threshold 0.8: 14 bands of 9 rows, a pair at Jaccard 0.9 collides with
    # probability 0.999 instead of 0.93 at equal weights).
    false_negative_weight: float = 0.9
    shingle_words: int = 5
    seed: int = 1


def shingles(text: str, n: int) -> set[bytes]:
    """The word n-grams of ``text`` (lowercased), as bytes; short texts give one shingle.
    (The definition; :func:`shingle_hashes` computes the same set's hashes quickly.)"""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i : i + n]).encode("utf-8") for i in range(len(words) - n + 1)}


_ROLL = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime: odd, so the roll is invertible


def shingle_hashes(text: str, n: int) -> np.ndarray:
    """32-bit hashes of the distinct word n-grams of ``text`` (lowercased).

    Each word is hashed once (CRC-32, deterministic across runs, unlike Python's ``hash``)
    and each n-gram is a polynomial roll of its words' hashes folded to 32 bits, computed
    with NumPy: building and SHA-1-hashing one bytes object per shingle in Python (what
    ``update_batch`` does by default) was three quarters of curation's time. datasketch
    mixes each input with MurmurHash3's finalizer before permuting, so the CRC's linearity
    does not leak into the signature.
    """
    words = _WORD.findall(text.lower())
    # CRC each distinct word once; map() with the dict's lookup stays in C per word.
    crc = {word: zlib.crc32(word.encode("utf-8")) for word in set(words)}
    codes = np.fromiter(map(crc.__getitem__, words), dtype=np.uint64, count=len(words))
    if len(words) < n:
        return np.array([zlib.crc32(" ".join(words).encode("utf-8"))], dtype=np.uint64)
    rolled = codes[: len(codes) - n + 1].copy()
    for offset in range(1, n):
        rolled = rolled * _ROLL + codes[offset : len(codes) - n + 1 + offset]
    folded = (rolled ^ (rolled >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    return np.unique(folded)


class DiskIndex:
    """LSH bands, signatures and exact-dedup digests in a SQLite file, for corpora whose
    index would not fit in memory.

    datasketch's in-memory index costs ~5 KB per kept document (a Python set per band
    bucket, measured in ``bench/RESULTS.md``) and its persistent backends need a Redis or
    Cassandra server; here RAM stays at SQLite's page cache (``cache_mb``) however many
    documents are indexed, and the disk holds ~1 KB per document. The file is a scratch
    space for one run (no journal, no fsync): delete it afterwards.
    """

    def __init__(self, path: Path, cache_mb: int = 16) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path)
        self.db.executescript(
            f"""
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
            PRAGMA cache_size = -{cache_mb * 1024};
            CREATE TABLE IF NOT EXISTS bands (band INTEGER, key INTEGER, doc INTEGER,
                                              PRIMARY KEY (band, key, doc)) WITHOUT ROWID;
            CREATE TABLE IF NOT EXISTS signatures (doc INTEGER PRIMARY KEY, signature BLOB);
            CREATE TABLE IF NOT EXISTS digests (digest BLOB PRIMARY KEY) WITHOUT ROWID;
            """
        )
        self._pending = 0

    def add_digest(self, digest: bytes) -> bool:
        """Record a document digest; False when it was already there (an exact duplicate)."""
        cursor = self.db.execute("INSERT OR IGNORE INTO digests VALUES (?)", (digest,))
        self._tick()
        return cursor.rowcount == 1

    def candidates(self, keys: list[int]) -> set[int]:
        found: set[int] = set()
        for band, key in enumerate(keys):
            rows = self.db.execute("SELECT doc FROM bands WHERE band = ? AND key = ?", (band, key))
            found.update(doc for (doc,) in rows)
        return found

    def signature(self, doc: int) -> np.ndarray:
        (blob,) = self.db.execute(
            "SELECT signature FROM signatures WHERE doc = ?", (doc,)
        ).fetchone()
        return np.frombuffer(blob, dtype=np.uint32)

    def insert(self, doc: int, keys: list[int], signature: np.ndarray) -> None:
        self.db.executemany(
            "INSERT INTO bands VALUES (?, ?, ?)",
            [(band, key, doc) for band, key in enumerate(keys)],
        )
        self.db.execute("INSERT INTO signatures VALUES (?, ?)", (doc, signature.tobytes()))
        self._tick()

    def _tick(self) -> None:
        self._pending += 1
        if self._pending >= 2000:
            self.db.commit()
            self._pending = 0

    def close(self) -> None:
        self.db.close()
        self.path.unlink(missing_ok=True)


class NearDuplicateIndex:
    """Streams documents through MinHash LSH and answers "is this a near-duplicate?"."""

    def __init__(
        self, settings: NearDedupSettings | None = None, disk: DiskIndex | None = None
    ) -> None:
        self.settings = settings or NearDedupSettings()
        if not 0.0 < self.settings.threshold < 1.0:
            raise UserError("must be between 0 and 1 (exclusive)", field="near_dedup.threshold")
        if self.settings.num_perm < 16:
            raise UserError("needs at least 16 permutations", field="near_dedup.num_perm")
        if self.settings.shingle_words < 1:
            raise UserError("must be at least 1", field="near_dedup.shingle_words")
        if not 0.0 < self.settings.false_negative_weight < 1.0:
            raise UserError(
                "must be between 0 and 1 (exclusive)", field="near_dedup.false_negative_weight"
            )
        weight = self.settings.false_negative_weight
        # datasketch picks the bands and rows for the threshold; with a disk index only
        # those band ranges are used, the buckets live in SQLite.
        self.lsh = MinHashLSH(
            threshold=self.settings.threshold,
            num_perm=self.settings.num_perm,
            weights=(1.0 - weight, weight),
        )
        self.disk = disk
        # One template MinHash: its permutations are reused (building them costs num_perm
        # random draws per document otherwise).
        self._template = MinHash(
            # The inputs are already hashes: datasketch calls hashfunc on each, and ``int``
            # (a C builtin) is the cheapest identity on Python ints.
            num_perm=self.settings.num_perm,
            seed=self.settings.seed,
            hashfunc=int,
        )
        self._signatures: list[np.ndarray] = []
        self._count = 0

    def signature(self, text: str) -> MinHash:
        minhash = self._template.copy()
        minhash.clear()
        minhash.update_batch(shingle_hashes(text, self.settings.shingle_words).tolist())
        return minhash

    def is_duplicate(self, text: str) -> bool:
        """True when ``text`` resembles a kept document; otherwise it is kept (indexed)."""
        minhash = self.signature(text)
        values = minhash.hashvalues.astype(np.uint32)
        if self.disk is not None:
            return self._disk_is_duplicate(values)
        for key in self.lsh.query(minhash):
            if self._similar(self._signatures[key], values):
                return True
        self._signatures.append(values)
        self.lsh.insert(self._count, minhash, check_duplication=False)
        self._count += 1
        return False

    def _disk_is_duplicate(self, values: np.ndarray) -> bool:
        assert self.disk is not None
        keys = [hash(values[start:end].tobytes()) for start, end in self.lsh.hashranges]
        for doc in self.disk.candidates(keys):
            if self._similar(self.disk.signature(doc), values):
                return True
        self.disk.insert(self._count, keys, values)
        self._count += 1
        return False

    def _similar(self, kept: np.ndarray, values: np.ndarray) -> bool:
        """Estimated Jaccard similarity (share of equal MinHash values) >= threshold."""
        return float(np.mean(kept == values)) >= self.settings.threshold

    def __len__(self) -> int:
        return self._count
