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

# Over the normalized text: overriding the instructions, extracting the hidden prompt,
# smuggled chat-template tokens, role-play jailbreaks. Each is anchored on two words that
# co-occur in attacks ("ignore ... previous instructions"), not on one word alone: "what
# is a jailbreak?" and "can I ignore the warm-up?" are honest questions.
INJECTION_PATTERNS: list[str] = [
    r"(ignore|disregard|forget|skip|override|bypass)\b.{0,40}\b(previous|prior|above|earlier|all|any|your|the|system)\b.{0,25}\b(instructions?|prompts?|rules|guidelines|context)",
    r"(new|real|updated) (system )?(instructions?|rules|prompt)\b",
    r"(reveal|show|print|repeat|tell me|what (is|are))\b.{0,30}\b(system prompt|hidden (text|instructions?)|initial prompt|your (instructions|prompt|rules))",
    r"repeat everything (above|before)",
    r"<\|?(im_start|system|endoftext)\|?>|\[(system|inst)\]",
    r"base64.{0,30}(follow|instructions)",
    r"\b(dan|do anything now|developer mode|sudo mode)\b|jailbreak (test|mode|prompt)|(enable|approved) jailbreak",
    r"\b(unfiltered|uncensored|evil|without (restrictions|rules|filters)|no (rules|restrictions))\b",
    r"(hypothetically|in a story).{0,60}\b(bomb|weapon|malware)",
    r"\bact as\b.{0,60}\b(no restrictions|staff)",
]
_COMPILED = [re.compile(p) for p in INJECTION_PATTERNS]


def normalize(text: str) -> str:
    """NFKC, zero-width characters removed, lowercase, look-alike letters mapped to Latin
    (``CONFUSABLES``), runs of whitespace to one space, spaced-out letters joined."""
    text = unicodedata.normalize("NFKC", text).translate(ZERO_WIDTH).lower()
    text = re.sub(r"\s+", " ", text.translate(CONFUSABLES))
    return SPACED_LETTERS.sub(lambda m: m.group().replace(" ", ""), text)


def is_injection(text: str) -> bool:
    """Whether any pattern matches the normalized text."""
    plain = normalize(text)
    return any(pattern.search(plain) for pattern in _COMPILED)


def rates(
    blocks: Callable[[str], bool], attacks: list[str], benign: list[str]
) -> tuple[float, float]:
    """(block rate over ``attacks``, false-block rate over ``benign``); 0.0 for an empty list."""
    caught = sum(1 for text in attacks if blocks(text))
    false = sum(1 for text in benign if blocks(text))
    return caught / max(len(attacks), 1), false / max(len(benign), 1)
