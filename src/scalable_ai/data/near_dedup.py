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
from dataclasses import dataclass

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
    """The word n-grams of ``text`` (lowercased), as bytes; short texts give one shingle."""
    words = _WORD.findall(text.lower())
    if len(words) < n:
        return {" ".join(words).encode("utf-8")}
    return {" ".join(words[i : i + n]).encode("utf-8") for i in range(len(words) - n + 1)}


class NearDuplicateIndex:
    """Streams documents through MinHash LSH and answers "is this a near-duplicate?"."""

    def __init__(self, settings: NearDedupSettings | None = None) -> None:
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
        self.lsh = MinHashLSH(
            threshold=self.settings.threshold,
            num_perm=self.settings.num_perm,
            weights=(1.0 - weight, weight),
        )
        # One template MinHash: its permutations are reused (building them costs num_perm
        # random draws per document otherwise).
        self._template = MinHash(num_perm=self.settings.num_perm, seed=self.settings.seed)
        self._signatures: list[np.ndarray] = []

    def signature(self, text: str) -> MinHash:
        minhash = self._template.copy()
        minhash.clear()
        minhash.update_batch(list(shingles(text, self.settings.shingle_words)))
        return minhash

    def is_duplicate(self, text: str) -> bool:
        """True when ``text`` resembles a kept document; otherwise it is kept (indexed)."""
        minhash = self.signature(text)
        values = minhash.hashvalues.astype(np.uint32)
        for key in self.lsh.query(minhash):
            if float(np.mean(self._signatures[key] == values)) >= self.settings.threshold:
                return True
        key = len(self._signatures)
        self._signatures.append(values)
        self.lsh.insert(key, minhash, check_duplication=False)
        return False

    def __len__(self) -> int:
        return len(self._signatures)
