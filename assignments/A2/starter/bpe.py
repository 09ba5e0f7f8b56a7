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
    raise NotImplementedError("TODO(A2.1): pair_counts")


def merge(ids: list[int], pair: Pair, new_id: int) -> list[int]:
    """``ids`` with every non-overlapping occurrence of ``pair``, left to right, replaced by
    ``new_id``."""
    raise NotImplementedError("TODO(A2.1): merge")


def train_bpe(data: bytes, num_merges: int) -> list[Pair]:
    """The merges learned from ``data``: merge ``i`` makes id ``256 + i``. Stops early when no
    pair occurs twice."""
    # TODO(A2.2): count pairs, take the most frequent (ties: first occurrence), merge, repeat.
    raise NotImplementedError("TODO(A2.2): train_bpe")


def encode(data: bytes, merges: list[Pair]) -> list[int]:
    """``data`` as token ids: repeatedly apply the earliest-learned merge present."""
    # TODO(A2.3): which merge applies first when several learned pairs are present?
    raise NotImplementedError("TODO(A2.3): encode")


def decode(ids: list[int], merges: list[Pair]) -> bytes:
    """The bytes ``ids`` stand for."""
    raise NotImplementedError("TODO(A2.3): decode")
