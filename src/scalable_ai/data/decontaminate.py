"""Decontamination: drop training documents that share long word n-grams with evaluation text.

A model scored on text it trained on measures memory, not skill. GPT-3 (Brown et al. 2020,
appendix C) flagged overlaps of 13-word n-grams between training data and benchmarks; we
do the same against the evaluation texts we name (a validation split, an eval set's
questions and answers): any training document containing one of their n-grams is removed.
Words are lowercased runs of letters and digits, so punctuation and case do not hide an
overlap. The index holds one hash per distinct evaluation n-gram; an evaluation text shorter than
the n-gram cannot be matched and is counted as such in the report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from scalable_ai.errors import UserError

_WORD = re.compile(r"\w+")


def _ngram_hashes(text: str, n: int) -> Iterator[int]:
    """Python's hash of each word n-gram: stable within a process, which is all the index
    needs (it is built and used in one run), and ~10x cheaper than a cryptographic hash."""
    words = _WORD.findall(text.lower())
    return map(hash, zip(*(words[i:] for i in range(n)), strict=False))


def read_eval_texts(paths: Iterable[Path | str]) -> Iterator[str]:
    """Evaluation texts from files: ``.jsonl`` (every string value of each object), ``.json``
    (a list of strings or objects), anything else as plain text (one text per file)."""
    for item in paths:
        path = Path(item)
        if not path.is_file():
            raise UserError(f"{path} does not exist", field="eval")
        try:
            content = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UserError(f"{path} is not UTF-8 text", field="eval") from None
        if path.suffix == ".jsonl":
            for number, line in enumerate(content.splitlines(), start=1):
                if line.strip():
                    yield from _strings(_load_json(line, f"{path}:{number}"))
        elif path.suffix == ".json":
            yield from _strings(_load_json(content, str(path)))
        else:
            yield content


def _load_json(text: str, where: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{where}: not JSON ({exc.msg})", field="eval") from None


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


class ContaminationIndex:
    """The n-grams of the evaluation texts; ``contaminated(doc)`` asks for any overlap."""

    def __init__(self, eval_texts: Iterable[str], ngram: int = 13) -> None:
        if ngram < 1:
            raise UserError("must be at least 1", field="decontamination_ngram")
        self.ngram = ngram
        self.hashes: set[int] = set()
        self.texts = 0
        self.too_short = 0  # texts with fewer than ``ngram`` words cannot be matched
        for text in eval_texts:
            self.texts += 1
            before = len(self.hashes)
            self.hashes.update(_ngram_hashes(text, ngram))
            self.too_short += len(self.hashes) == before and len(_WORD.findall(text)) < ngram

    def __bool__(self) -> bool:
        return bool(self.hashes)

    def contaminated(self, text: str) -> bool:
        if not self.hashes:
            return False
        return any(h in self.hashes for h in _ngram_hashes(text, self.ngram))
