"""Vector search in the RAG index: sqlite-vec's vec0 (what apps/index.py uses) against a
numpy scan of the same vectors (the peer: exact search by one matrix-vector product).

    python bench/rag.py [--chunks 2000,20000] [--queries 200]

Both are exact (same neighbours, checked); the question is whether keeping vectors in the
SQLite file beside their chunks costs query time. Random unit vectors of all-MiniLM-L6-v2's
384 dimensions; one thread. Also times inserting the vectors (one transaction).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from scalable_ai.apps.index import ChunkIndex
from scalable_ai.apps.ingest import Chunk, Document, Section


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", default="2000,20000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=40)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"{'chunks':>8} {'insert s':>9} {'sqlite-vec ms':>14} {'numpy ms':>9} {'ratio':>6}")
    for n in [int(x) for x in args.chunks.split(",")]:
        vectors = rng.standard_normal((n, 384)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        queries = vectors[rng.integers(0, n, args.queries)] + 0.1 * rng.standard_normal(
            (args.queries, 384)
        ).astype(np.float32)
        with tempfile.TemporaryDirectory() as folder:
            index = ChunkIndex(Path(folder) / "i.db", "bench")
            chunks = [Chunk("bench.txt", "", i, f"chunk {i}", 2) for i in range(n)]
            document = Document("bench.txt", "text", "bench", [Section("", "")], "h")
            began = time.perf_counter()
            index.put(document, chunks, lambda _texts, v=vectors: v)
            insert = time.perf_counter() - began
            ids = {c.text: c.id for c in index.chunks()}
            began = time.perf_counter()
            found = [index.vector_search(q, args.k) for q in queries]
            ours = (time.perf_counter() - began) / args.queries
            began = time.perf_counter()
            peer = [np.argsort(-(vectors @ q))[: args.k] for q in queries]
            numpy_s = (time.perf_counter() - began) / args.queries
            for got, want in zip(found, peer, strict=True):
                assert [i for i, _ in got[:5]] == [ids[f"chunk {j}"] for j in want[:5]]
            index.close()
        print(f"{n:8d} {insert:9.2f} {ours * 1e3:14.3f} {numpy_s * 1e3:9.3f} {numpy_s / ours:6.2f}")


if __name__ == "__main__":
    main()
