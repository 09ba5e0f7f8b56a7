"""Scores per example and their aggregates with standard errors.

Standard errors, and which one each metric uses:

- A mean of 0/1 outcomes (``acc``, ``acc_norm``, ``exact_match``, the instruction
  accuracies): the sample standard deviation over sqrt(n), i.e. sqrt(p (1 - p) / (n - 1)) for
  a proportion p. This is the binomial formula with Bessel's correction, and it is what
  lm-evaluation-harness reports as ``acc_stderr``, so our numbers and theirs compare.
- A ratio of sums (token perplexity, bits per byte): the per-example terms are not
  independent draws of one quantity, so the standard error is a bootstrap over examples
  (1,000 resamples with replacement, seeded: the same run gives the same interval).
"""

from __future__ import annotations

import math
import random
import re
import string
from collections.abc import Callable, Sequence

BOOTSTRAP_RESAMPLES = 1000


def mean_and_stderr(values: Sequence[float]) -> tuple[float, float]:
    """Mean and its standard error, sample standard deviation / sqrt(n) (0 for n < 2)."""
    n = len(values)
    if n == 0:
        return math.nan, math.nan
    mean = sum(values) / n
    if n < 2:
        return mean, 0.0
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance / n)


def bootstrap_stderr(
    rows: Sequence[tuple[float, float]],
    statistic: Callable[[Sequence[tuple[float, float]]], float],
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> float:
    """Standard deviation of ``statistic`` over resamples of ``rows`` drawn with replacement."""
    if len(rows) < 2:
        return 0.0
    rng = random.Random(seed)
    draws = [statistic(rng.choices(rows, k=len(rows))) for _ in range(resamples)]
    mean = sum(draws) / len(draws)
    return math.sqrt(sum((d - mean) ** 2 for d in draws) / (len(draws) - 1))


def token_perplexity(rows: Sequence[tuple[float, float]]) -> float:
    """exp(-sum logprob / sum tokens) over (logprob, tokens) rows."""
    return math.exp(-sum(r[0] for r in rows) / max(sum(r[1] for r in rows), 1))


def bits_per_byte(rows: Sequence[tuple[float, float]]) -> float:
    """-sum logprob / (ln 2 * sum bytes) over (logprob, bytes) rows: a tokenizer-free measure."""
    return -sum(r[0] for r in rows) / (math.log(2) * max(sum(r[1] for r in rows), 1))


def choose(logprobs: Sequence[float], lengths: Sequence[int]) -> tuple[int, int]:
    """(argmax of the choices' summed logprobs, argmax after dividing each by its length in
    characters): ``acc`` and ``acc_norm`` as lm-evaluation-harness defines them, so a long
    answer is not penalized merely for having more tokens."""
    best = max(range(len(logprobs)), key=lambda i: logprobs[i])
    best_norm = max(range(len(logprobs)), key=lambda i: logprobs[i] / max(lengths[i], 1))
    return best, best_norm


_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """Lowercase, strip punctuation (but a number's sign and point) and collapse spaces."""
    kept = re.sub(r"(?<=\d)[.,](?=\d)", "\0", text.strip().lower())
    kept = re.sub(r"^-(?=\d)", "\1", kept)
    cleaned = kept.translate(_PUNCTUATION).replace("\0", ".").replace("\1", "-")
    return " ".join(cleaned.split())


def extract_answer(output: str, pattern: str) -> str:
    """The first match of ``pattern`` in ``output`` (the whole output when no pattern)."""
    if not pattern:
        return output
    found = re.search(pattern, output)
    return found.group(0) if found else ""
