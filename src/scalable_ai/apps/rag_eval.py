"""Retrieval quality on our question set: recall@k and mean reciprocal rank.

A question is answered by a chunk that comes from its ``source`` and contains its
``contains`` phrase (case and whitespace ignored), which keeps the judgments valid whatever
the chunk size. recall@k is the share of questions with such a chunk among the first k hits;
MRR averages 1/rank of the first one (0 when none is in the list read), as in TREC's QA
track (Voorhees, 1999).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import yaml

from scalable_ai.apps.context import Hit, Retriever
from scalable_ai.apps.index import StoredChunk
from scalable_ai.errors import UserError


@dataclass(frozen=True)
class Question:
    question: str
    source: str
    contains: str


def _normal(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def load_questions(path: Path | None = None) -> list[Question]:
    """Our question set (``apps/data/rag_questions.yaml``) or another file of that shape."""
    if path is None:
        text = resources.files("scalable_ai.apps").joinpath("data/rag_questions.yaml").read_text()
    elif not path.is_file():
        raise UserError("no such question file", field=str(path))
    else:
        text = path.read_text()
    rows = (yaml.safe_load(text) or {}).get("questions") or []
    try:
        return [Question(str(r["question"]), str(r["source"]), str(r["contains"])) for r in rows]
    except (KeyError, TypeError) as error:
        raise UserError(f"each question needs question, source, contains ({error})") from error


def answers(chunk: StoredChunk, question: Question) -> bool:
    return chunk.source == question.source and _normal(question.contains) in _normal(chunk.text)


def first_relevant_rank(hits: list[Hit], question: Question) -> int | None:
    for rank, hit in enumerate(hits, start=1):
        if answers(hit.chunk, question):
            return rank
    return None


def evaluate(
    retriever: Retriever, questions: list[Question], ks: tuple[int, ...] = (1, 3, 5, 10)
) -> dict[str, float | list]:
    """recall@k for each k and MRR over the deepest k, plus the questions missed at k=5."""
    depth = max(ks)
    ranks: list[int | None] = []
    for question in questions:
        ranks.append(first_relevant_rank(retriever.search(question.question, depth), question))
    n = max(len(questions), 1)
    result: dict[str, float | list] = {
        f"recall@{k}": sum(1 for r in ranks if r is not None and r <= k) / n for k in ks
    }
    result["mrr"] = sum(1.0 / r for r in ranks if r is not None) / n
    result["missed@5"] = [
        q.question for q, r in zip(questions, ranks, strict=True) if r is None or r > 5
    ]
    return result


def default_corpus(docs: Path | None = Path("docs")) -> list[Path]:
    """The syllabus shipped in the package's course seed, and ``docs/`` when present."""
    syllabus = resources.files("scalable_ai.course").joinpath("seed/syllabus.txt")
    paths = [Path(str(syllabus))]
    if docs is not None and docs.is_dir():
        paths.append(docs)
    return paths
