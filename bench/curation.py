"""Curation throughput on the real corpus, and MinHash signatures: ours vs two peers.

1. Curation: ``sai data curate``'s library call over a slice of the ``en-docs`` blend
   (extracted first from the installed Debian packages), with the dedup index in memory and
   on disk; MB/s of input text by wall clock and by CPU time (this process's seconds on a
   core: the stable figure on a shared machine).
2. MinHash signatures of the same documents (128 permutations, word 5-gram shingles):
   - ours: datasketch's ``MinHash`` fed shingle hashes computed with NumPy (what curation
     uses),
   - datasketch as documented: ``update_batch`` of shingle bytes (SHA-1 per shingle),
   - rensa's ``RMinHash`` (Rust) fed the shingle strings, when rensa is installed
     (``pip install rensa``; not a dependency of the project).
   Besides speed, each estimator's mean absolute error against the exact Jaccard similarity
   on planted pairs (copies with 1-20% of words changed) says whether the speed costs
   accuracy.

Run: ``python bench/curation.py [--max-mb 20] [--docs 400]``. Numbers are logged as a run
(``bench.curation``).
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from datasketch import MinHash

from scalable_ai.data.corpus import build_corpus, missing_packages
from scalable_ai.data.curate import CurationSettings, curate
from scalable_ai.data.documents import read_documents
from scalable_ai.data.near_dedup import NearDuplicateIndex, shingles
from scalable_ai.runs import open_run

PERMUTATIONS, SHINGLE = 128, 5


def _timed(work: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_curation(corpus: Path, scratch: Path, megabytes: float) -> dict[str, dict]:
    import matplotlib.pyplot  # noqa: F401  (the report's chart: import once, outside the timing)

    rows = {}
    for index in ("memory", "disk"):
        settings = CurationSettings(dedup_index=index)
        report: dict = {}

        def work(
            settings: CurationSettings = settings, out: Path = scratch / index, report=report
        ) -> None:
            report.update(curate(corpus, out, settings))

        wall, cpu = _timed(work)
        rows[index] = {
            "input_mb": round(megabytes, 1),
            "kept_mb": round(report["kept"]["bytes"] / 1e6, 1),
            "wall_mb_per_s": round(megabytes / wall, 2),
            "cpu_mb_per_s": round(megabytes / cpu, 2),
        }
    return rows


def _ours() -> Callable[[str], np.ndarray]:
    index = NearDuplicateIndex()
    return lambda text: index.signature(text).hashvalues


def _datasketch_documented() -> Callable[[str], np.ndarray]:
    def signature(text: str) -> np.ndarray:
        minhash = MinHash(num_perm=PERMUTATIONS, seed=1)
        minhash.update_batch(list(shingles(text, SHINGLE)))
        return minhash.hashvalues

    return signature


def _rensa() -> Callable[[str], np.ndarray] | None:
    if importlib.util.find_spec("rensa") is None:
        return None
    from rensa import RMinHash

    def signature(text: str) -> np.ndarray:
        minhash = RMinHash(num_perm=PERMUTATIONS, seed=1)
        minhash.update([s.decode() for s in shingles(text, SHINGLE)])
        return np.asarray(minhash.digest(), dtype=np.uint64)

    return signature


def _planted_pairs(texts: list[str], count: int) -> list[tuple[str, str, float]]:
    rng = random.Random(0)
    pairs = []
    for text in texts[:count]:
        words = text.split()
        if len(words) < 200:
            continue
        fraction = rng.choice([0.01, 0.05, 0.1, 0.2])
        for index in rng.sample(range(len(words)), int(len(words) * fraction)):
            words[index] = rng.choice(["quartz", "meadow", "lantern", "harbor"])
        copy = " ".join(words)
        a, b = shingles(text, SHINGLE), shingles(copy, SHINGLE)
        pairs.append((text, copy, len(a & b) / len(a | b)))
    return pairs


def bench_minhash(texts: list[str]) -> dict[str, dict]:
    megabytes = sum(len(t.encode()) for t in texts) / 1e6
    pairs = _planted_pairs(texts, 150)
    peers = {
        "ours (datasketch + NumPy shingles)": _ours(),
        "datasketch update_batch (SHA-1)": _datasketch_documented(),
        "rensa RMinHash (Rust)": _rensa(),
    }
    rows: dict[str, dict] = {}
    for name, signature in peers.items():
        if signature is None:
            rows[name] = {"missing": "rensa not installed"}
            continue
        wall, cpu = _timed(lambda signature=signature: [signature(t) for t in texts])
        errors = [
            abs(float(np.mean(signature(a) == signature(b))) - truth) for a, b, truth in pairs
        ]
        rows[name] = {
            "docs_per_s_cpu": round(len(texts) / cpu, 1),
            "mb_per_s_cpu": round(megabytes / cpu, 2),
            "mb_per_s_wall": round(megabytes / wall, 2),
            "jaccard_mean_abs_error": round(statistics.fmean(errors), 4),
        }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-mb", type=float, default=20.0, help="corpus slice to curate")
    parser.add_argument("--docs", type=int, default=400, help="documents for MinHash timing")
    args = parser.parse_args()
    if missing_packages():
        sys.exit(f"install the corpus packages first (make corpus-packages): {missing_packages()}")
    with (
        tempfile.TemporaryDirectory() as folder,
        open_run("bench.curation", config=vars(args)) as run,
    ):
        scratch = Path(folder)
        manifest = build_corpus(scratch / "corpus", max_bytes=int(args.max_mb * 1e6))
        curation = bench_curation(scratch / "corpus", scratch, manifest["bytes"] / 1e6)
        texts = [d.text for d in read_documents(scratch / "memory")][: args.docs]
        minhash = bench_minhash(texts)
        run.summary(curation=curation, minhash=minhash)
    print(f"Curation of {manifest['bytes'] / 1e6:.1f} MB of en-docs ({manifest['documents']} docs)")
    print("| dedup index | kept MB | MB/s (wall) | MB/s (CPU) |\n|---|---|---|---|")
    for index, row in curation.items():
        print(f"| {index} | {row['kept_mb']} | {row['wall_mb_per_s']} | {row['cpu_mb_per_s']} |")
    ours = minhash["ours (datasketch + NumPy shingles)"]["mb_per_s_cpu"]
    print(f"\nMinHash signatures, {len(texts)} curated documents, {PERMUTATIONS} permutations")
    print(
        "| implementation | docs/s (CPU) | MB/s (CPU) | ours / it | |Ĵ - J| |\n|---|---|---|---|---|"
    )
    for name, row in minhash.items():
        if "missing" in row:
            print(f"| {name} | {row['missing']} | | | |")
            continue
        ratio = ours / row["mb_per_s_cpu"]
        print(
            f"| {name} | {row['docs_per_s_cpu']} | {row['mb_per_s_cpu']} | {ratio:.2f} "
            f"| {row['jaccard_mean_abs_error']} |"
        )


if __name__ == "__main__":
    main()
