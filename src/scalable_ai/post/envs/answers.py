"""Reading a model's final answer out of its text, and comparing numbers exactly.

Three places an answer can be, looked for in this order: ``\\boxed{...}`` (the MATH dataset's
and DeepSeek-R1's convention), an ``<answer>...</answer>`` tag (the format this project's
prompts ask for), and otherwise the last number in the text. Numbers compare as exact
fractions, so ``12``, ``12.0`` and ``24/2`` are the same answer and ``0.333`` is not ``1/3``.
"""

from __future__ import annotations

import re
from fractions import Fraction

ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL)
BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:/\d+)?")


def tagged_answers(text: str) -> list[str]:
    """The contents of every ``<answer>...</answer>`` in ``text``, stripped."""
    return [m.strip() for m in ANSWER_TAG.findall(text)]


def final_answer(text: str) -> str | None:
    """The answer a completion gives (boxed, tagged, or its last number), or None."""
    for pattern in (BOXED, ANSWER_TAG):
        found = pattern.findall(text)
        if found:
            return found[-1].strip()
    numbers = NUMBER.findall(text)
    return numbers[-1] if numbers else None


def as_number(text: str | None) -> Fraction | None:
    """``text`` as an exact number (integer, decimal or ``p/q``), or None if it is not one."""
    if text is None:
        return None
    cleaned = text.strip().replace(",", "").replace(" ", "")
    if not re.fullmatch(r"-?\d+(?:\.\d+)?(?:/\d+)?", cleaned):
        return None
    try:
        return Fraction(cleaned)
    except (ValueError, ZeroDivisionError):
        return None


def same_number(given: str | None, reference: str) -> bool:
    """Whether ``given`` is exactly the number ``reference`` (both read by :func:`as_number`)."""
    value = as_number(given)
    return value is not None and value == as_number(reference)


def format_number(value: Fraction) -> str:
    """An exact number as a reference answer: an integer, else ``p/q``."""
    return (
        str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"
    )
