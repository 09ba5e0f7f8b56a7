"""Part 5 (lecture L23: safety guardrails): an input rail against prompt injection.

An input rail looks at the user's text before the model does. Attackers hide the words a
pattern looks for: full-width letters, Cyrillic look-alikes ("ignоre" with a Cyrillic о),
zero-width characters, "i g n o r e". So the rail first *normalizes* the text, then matches
regular expressions. A rail is judged by two rates on a red-team set: the share of attacks
it blocks and the share of honest questions it blocks by mistake (the false-block rate; a
rail that refuses "may I ignore the warm-up?" costs real users). The lab stack's
``scalable_ai.apps.guardrails.normalize`` and ``apps/data/guardrails.toml`` are the
references; ``scalable_ai.apps.redteam.evaluate_guardrails`` computes the same two rates.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))
CONFUSABLES = str.maketrans("асеорхуіјѕԁɡοανκτ", "aceopxyijsdgoavkt")
SPACED_LETTERS = re.compile(r"\b(?:\w ){2,}\w\b")

# TODO(A5.10): your regular expressions over the normalized text (see the handout): the
# overriding of instructions, extraction of the system prompt, role-play jailbreaks,
# smuggled chat-template tokens. Measure them with `rates` on the red-team set.
INJECTION_PATTERNS: list[str] = []
_COMPILED = [re.compile(p) for p in INJECTION_PATTERNS]


def normalize(text: str) -> str:
    """NFKC, zero-width characters removed, lowercase, look-alike letters mapped to Latin
    (``CONFUSABLES``), runs of whitespace to one space, spaced-out letters joined."""
    # TODO(A5.9): NFKC, drop ZERO_WIDTH, lower, CONFUSABLES, collapse spaces, join SPACED_LETTERS.
    raise NotImplementedError("TODO(A5.9): normalize")


def is_injection(text: str) -> bool:
    """Whether any pattern matches the normalized text."""
    # TODO(A5.10): search the normalized text with your compiled patterns.
    raise NotImplementedError("TODO(A5.10): is_injection")


def rates(
    blocks: Callable[[str], bool], attacks: list[str], benign: list[str]
) -> tuple[float, float]:
    """(block rate over ``attacks``, false-block rate over ``benign``); 0.0 for an empty list."""
    # TODO(A5.11): the two shares, 0.0 for an empty list.
    raise NotImplementedError("TODO(A5.11): rates")
