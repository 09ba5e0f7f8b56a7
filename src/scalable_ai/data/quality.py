"""Quality rules: Gopher's heuristics (Rae et al. 2021, appendix A.1.1) with C4's spirit.

Each rule looks at one document and either passes it or names itself; the first rule that
fails removes the document and is counted, so the curation report says how many
documents (and bytes) each rule took out. Thresholds are settings, defaulting to
Gopher's published values except where noted: our corpus is technical documentation,
whose code samples Gopher's web-page thresholds would wrongly discard (see
``docs/data.md`` for what each rule removed on the real blend).

Words are whitespace-separated tokens, as in Gopher's description.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

# Gopher's stop-word rule: at least two of these words must occur.
STOP_WORDS = frozenset({"the", "be", "to", "of", "and", "that", "have", "with"})
BULLETS = ("•", "●", "○", "■", "□", "▪", "▫", "*", "-", "‣", "⁃")


@dataclass(frozen=True)
class QualitySettings:
    """Thresholds of the quality rules (Gopher's values unless a comment says otherwise)."""

    min_words: int = 50
    max_words: int = 100_000
    min_mean_word_length: float = 3.0
    max_mean_word_length: float = 10.0
    max_symbol_to_word_ratio: float = 0.1  # "#" and ellipses per word
    max_bullet_lines_fraction: float = 0.9
    max_ellipsis_lines_fraction: float = 0.3
    # Gopher: 0.8 of words contain a letter. 0.7 here: reST and POD pages quote code and
    # tables whose numbers and operators are legitimate content of a programming manual.
    min_alphabetic_words_fraction: float = 0.7
    min_stop_words: int = 2
    max_duplicate_line_fraction: float = 0.30
    max_duplicate_paragraph_fraction: float = 0.30
    max_duplicate_line_chars_fraction: float = 0.20
    max_duplicate_paragraph_chars_fraction: float = 0.20
    max_top_ngram_chars_fraction: dict[int, float] = field(
        default_factory=lambda: {2: 0.20, 3: 0.18, 4: 0.16}
    )
    max_duplicate_ngram_chars_fraction: dict[int, float] = field(
        default_factory=lambda: {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
    )


Rule = Callable[[str, list[str], QualitySettings], bool]


def _length(text: str, words: list[str], s: QualitySettings) -> bool:
    return s.min_words <= len(words) <= s.max_words


def _word_length(text: str, words: list[str], s: QualitySettings) -> bool:
    mean = sum(len(word) for word in words) / max(len(words), 1)
    return s.min_mean_word_length <= mean <= s.max_mean_word_length


def _symbol_ratio(text: str, words: list[str], s: QualitySettings) -> bool:
    symbols = text.count("#") + text.count("...") + text.count("…")
    return symbols / max(len(words), 1) <= s.max_symbol_to_word_ratio


def _bullet_and_ellipsis_lines(text: str, words: list[str], s: QualitySettings) -> bool:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return False
    bullets = sum(line.startswith(BULLETS) for line in lines) / len(lines)
    ellipses = sum(line.endswith(("...", "…")) for line in lines) / len(lines)
    return bullets <= s.max_bullet_lines_fraction and ellipses <= s.max_ellipsis_lines_fraction


# A whitespace-separated word with no letter: only decimal digits, "_" and punctuation (a
# regex scan in C instead of a Python loop over every character of every word). "Letter"
# is a Unicode word character other than a decimal digit or "_": as str.isalpha except
# that numeric symbols such as "²" or "½" count as letters.
_LETTERLESS_WORD = re.compile(r"(?<!\S)(?:[^\w\s]|[\d_])+(?!\S)")
_WORD_CHARACTER = re.compile(r"[^\W_]")


def _alphabetic(text: str, words: list[str], s: QualitySettings) -> bool:
    alphabetic = len(words) - len(_LETTERLESS_WORD.findall(text))
    return alphabetic / max(len(words), 1) >= s.min_alphabetic_words_fraction


def _stop_words(text: str, words: list[str], s: QualitySettings) -> bool:
    found = 0
    for word in words:
        if word.lower() in STOP_WORDS:
            found += 1
            if found >= s.min_stop_words:
                return True
    return s.min_stop_words <= 0


def _duplicate_fractions(pieces: list[str]) -> tuple[float, float]:
    """(duplicated pieces / pieces, characters in duplicated pieces / characters)."""
    if not pieces:
        return 0.0, 0.0
    seen: set[str] = set()
    duplicates = duplicate_chars = 0
    for piece in pieces:
        if piece in seen:
            duplicates += 1
            duplicate_chars += len(piece)
        else:
            seen.add(piece)
    return duplicates / len(pieces), duplicate_chars / max(sum(map(len, pieces)), 1)


def _has_word_character(line: str) -> bool:
    return _WORD_CHARACTER.search(line) is not None


def _repeated_lines_and_paragraphs(text: str, words: list[str], s: QualitySettings) -> bool:
    """Gopher's duplicate line and paragraph rules. Deviation: lines with no letter or digit
    (reST heading underlines, table borders) are markup, not repeated content, and are not
    counted."""
    lines = [line.strip() for line in text.splitlines() if _has_word_character(line)]
    paragraphs = [p.strip() for p in text.split("\n\n") if p.strip()]
    line_fraction, line_chars = _duplicate_fractions(lines)
    paragraph_fraction, paragraph_chars = _duplicate_fractions(paragraphs)
    return (
        line_fraction <= s.max_duplicate_line_fraction
        and paragraph_fraction <= s.max_duplicate_paragraph_fraction
        and line_chars <= s.max_duplicate_line_chars_fraction
        and paragraph_chars <= s.max_duplicate_paragraph_chars_fraction
    )


class _NgramView:
    """Word n-grams of one document as 64-bit hashes, computed with NumPy.

    Gopher's repetition rules count n-grams for n = 2..10; building Python tuples for each
    n made them the slowest part of curation. Each word becomes a 64-bit hash and each
    n-gram a polynomial combination of its words' hashes (collisions are ~n²/2⁶⁴ a
    document), so counting is ``np.unique`` and coverage a prefix sum.
    """

    _MULTIPLIER = np.uint64(0x100000001B3)  # the FNV-1a 64-bit prime: odd, well spread

    def __init__(self, words: list[str]) -> None:
        self.word_hashes = np.fromiter(map(hash, words), dtype=np.int64, count=len(words))
        self.word_hashes = self.word_hashes.view(np.uint64)
        self.lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        self.length_prefix = np.concatenate(([0], np.cumsum(self.lengths)))
        self.total_chars = int(self.length_prefix[-1]) or 1
        self._hashes = self.word_hashes.copy()
        self._n = 1

    def hashes(self, n: int) -> np.ndarray:
        """One hash per n-gram start (len(words) - n + 1 of them), rolled on from the last n
        asked for (rules ask for growing n), or from single words when n went down."""
        if n < self._n:
            self._hashes, self._n = self.word_hashes.copy(), 1
        while self._n < n:
            self._n += 1
            size = len(self.word_hashes) - self._n + 1
            self._hashes = self._hashes[:size] * self._MULTIPLIER + self.word_hashes[self._n - 1 :]
        return self._hashes

    def chars(self, start: int, n: int) -> int:
        return int(self.length_prefix[start + n] - self.length_prefix[start])


_last_view: tuple[list[str], _NgramView] | None = None


def _ngram_view(words: list[str]) -> _NgramView:
    """The n-gram hashes of ``words``, built once for both repetition rules of a document
    (the cache holds the list itself, so an identity match is the same document)."""
    global _last_view
    if _last_view is None or _last_view[0] is not words:
        _last_view = (words, _NgramView(words))
    return _last_view[1]


def _top_ngrams(text: str, words: list[str], s: QualitySettings) -> bool:
    """The most frequent n-gram (n = 2, 3, 4) must not cover too many word characters
    (its count times its characters, over all word characters)."""
    view = _ngram_view(words)
    for n, limit in sorted(s.max_top_ngram_chars_fraction.items()):
        if len(words) < n:
            continue
        _, first, counts = np.unique(view.hashes(n), return_index=True, return_counts=True)
        count = int(counts.max())
        if count < 2:
            continue
        # Ties for most frequent: the one covering the most characters decides.
        chars = max(view.chars(int(start), n) for start in first[counts == count])
        if count * chars / view.total_chars > limit:
            return False
    return True


def _duplicate_ngrams(text: str, words: list[str], s: QualitySettings) -> bool:
    """Characters of words inside an n-gram (n = 5..10) seen more than once, over all characters."""
    view = _ngram_view(words)
    for n, limit in sorted(s.max_duplicate_ngram_chars_fraction.items()):
        if len(words) < n:
            continue
        _, inverse, counts = np.unique(view.hashes(n), return_inverse=True, return_counts=True)
        repeated_starts = counts[inverse] > 1
        # Word i is covered when some repeated n-gram starts in [i - n + 1, i].
        starts = np.concatenate(([0], np.cumsum(repeated_starts)))
        index = np.arange(len(words))
        covered = (
            starts[np.minimum(index + 1, len(repeated_starts))]
            > starts[np.maximum(index - n + 1, 0)]
        )
        if int(view.lengths[covered].sum()) / view.total_chars > limit:
            return False
    return True


def _placeholder_text(text: str, words: list[str], s: QualitySettings) -> bool:
    """C4 (Raffel et al. 2020) drops any page containing "lorem ipsum": placeholder text.
    (C4's line rules, keeping only lines that end in punctuation and dropping pages with a
    curly brace, are left out: they would delete the code and markup of a manual.)"""
    return "lorem ipsum" not in text.lower()


# Cheapest first: a document is judged by the first rule it fails.
RULES: dict[str, Rule] = {
    "length": _length,
    "placeholder_text": _placeholder_text,
    "mean_word_length": _word_length,
    "symbol_ratio": _symbol_ratio,
    "bullet_or_ellipsis_lines": _bullet_and_ellipsis_lines,
    "alphabetic_words": _alphabetic,
    "stop_words": _stop_words,
    "repeated_lines_or_paragraphs": _repeated_lines_and_paragraphs,
    "top_ngram": _top_ngrams,
    "duplicate_ngrams": _duplicate_ngrams,
}


def failed_rule(text: str, settings: QualitySettings | None = None) -> str | None:
    """The name of the first quality rule ``text`` fails, or None when it passes them all."""
    settings = settings or QualitySettings()
    words = text.split()
    for name, rule in RULES.items():
        if not rule(text, words, settings):
            return name
    return None
