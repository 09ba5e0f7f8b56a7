"""Verifiable instructions (IFEval, Zhou et al. 2023, arXiv:2311.07911): constraints on a
response that a program can check without a judge model.

An example of an ``instruction`` task carries a list of checks, each ``{"type": ..., ...}``::

    {"prompt": "Name three colours, in lowercase, as a bulleted list.",
     "instructions": [{"type": "lowercase"}, {"type": "bullets", "count": 3}]}

IFEval reports two accuracies, and so do we: *prompt-level strict* (every instruction of the
prompt followed) and *instruction-level* (the share of all instructions followed).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from scalable_ai.errors import UserError


def _words(text: str) -> list[str]:
    return re.findall(r"\b\w+\b", text)


def _sentences(text: str) -> int:
    return len([s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s])


def _bullets(text: str) -> int:
    return len([line for line in text.splitlines() if re.match(r"^\s*[*-]\s+\S", line)])


def _is_json(text: str) -> bool:
    body = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        json.loads(body)
    except json.JSONDecodeError:
        return False
    return True


#: type -> (parameters it needs, the check)
CHECKS: dict[str, tuple[tuple[str, ...], Callable[..., bool]]] = {
    "max_words": (("count",), lambda t, count: len(_words(t)) <= count),
    "min_words": (("count",), lambda t, count: len(_words(t)) >= count),
    "max_sentences": (("count",), lambda t, count: _sentences(t) <= count),
    "bullets": (("count",), lambda t, count: _bullets(t) == count),
    "contains": (("text",), lambda t, text: text.lower() in t.lower()),
    "not_contains": (("text",), lambda t, text: text.lower() not in t.lower()),
    "starts_with": (("text",), lambda t, text: t.strip().startswith(text)),
    "ends_with": (("text",), lambda t, text: t.strip().endswith(text)),
    "lowercase": ((), lambda t: t == t.lower() and any(c.isalpha() for c in t)),
    "uppercase": ((), lambda t: t == t.upper() and any(c.isalpha() for c in t)),
    "no_commas": ((), lambda t: "," not in t),
    "json": ((), _is_json),
    "quoted": ((), lambda t: len(t.strip()) > 1 and t.strip()[0] == t.strip()[-1] == '"'),
}


def check_instruction(response: str, instruction: dict[str, Any]) -> bool:
    """Whether ``response`` follows one instruction ``{"type": ..., parameters...}``."""
    kind = instruction.get("type")
    if kind not in CHECKS:
        raise UserError(
            f"unknown instruction type {kind!r}; known: {', '.join(CHECKS)}", field="instructions"
        )
    parameters, check = CHECKS[kind]
    missing = [p for p in parameters if p not in instruction]
    if missing:
        raise UserError(f"instruction {kind!r} needs {missing[0]!r}", field="instructions")
    return bool(check(response, *(instruction[p] for p in parameters)))


def follows(response: str, instructions: list[dict[str, Any]]) -> list[bool]:
    """One verdict per instruction, in order."""
    return [check_instruction(response, instruction) for instruction in instructions]
