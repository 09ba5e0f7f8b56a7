"""Part 1 (lecture L6: tokenization): byte-level BPE, trained and applied.

Byte pair encoding (Sennrich et al. 2016; byte-level as in GPT-2, Radford et al. 2019)
starts from the 256 byte values, so any text encodes with no unknown token, and repeatedly
replaces the most frequent adjacent pair of ids with a new id (``256``, ``257``, ...) until
it has made ``num_merges`` merges. Encoding new text applies the learned merges in the order
they were learned (the earliest merge first, wherever it occurs). The lab stack trains its
tokenizer with Hugging Face ``tokenizers`` (``scalable_ai/data/bpe.py``), which adds a
pre-tokenizer that splits words and digits first; this one works on raw bytes.

Ties: when several pairs are equally frequent, the one whose first occurrence comes
earliest in the sequence wins.
"""

from __future__ import annotations

Pair = tuple[int, int]


def pair_counts(ids: list[int]) -> dict[Pair, int]:
    """How often each adjacent pair occurs, in order of first occurrence (overlapping pairs
    count: ``[1, 1, 1]`` has the pair ``(1, 1)`` twice)."""
    counts: dict[Pair, int] = {}
    for pair in zip(ids, ids[1:]):
        counts[pair] = counts.get(pair, 0) + 1
    return counts


def merge(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """``ids`` with every non-overlapping occurrence of ``pair``, left to right, replaced by
    ``new_id``."""
    out: list[int] = []
    i = 0
    while i < len(ids):
        if i + 1 < len(ids) and ids[i] == pair[0] and ids[i + 1] == pair[1]:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def train_bpe(data: bytes, num_merges: int) -> list[Pair]:
    """The merges learned from ``data``: merge ``i`` makes id ``256 + i``. Stops early when no
    pair occurs twice."""
    ids = list(data)
    merges: list[Pair] = []
    for i in range(num_merges):
        counts = pair_counts(ids)
        if not counts:
            break
        best = max(counts, key=counts.__getitem__)  # max keeps the first of equal counts
        if counts[best] < 2:
            break
        ids = merge(ids, best, 256 + i)
        merges.append(best)
    return merges


def encode(data: bytes, merges: list[Pair]) -> list[int]:
    """``data`` as token ids: repeatedly apply the earliest-learned merge present."""
    ids = list(data)
    rank = {pair: i for i, pair in enumerate(merges)}
    while len(ids) > 1:
        present = [pair for pair in zip(ids, ids[1:]) if pair in rank]
        if not present:
            break
        best = min(present, key=rank.__getitem__)
        ids = merge(ids, best, 256 + rank[best])
    return ids


def decode(ids: list[int], merges: list[Pair]) -> bytes:
    """The bytes ``ids`` stand for."""
    spelled: dict[int, bytes] = {i: bytes([i]) for i in range(256)}
    for i, (left, right) in enumerate(merges):
        spelled[256 + i] = spelled[left] + spelled[right]
    return b"".join(spelled[i] for i in ids)
