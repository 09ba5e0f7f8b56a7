"""Context engineering: ingest, retrieve (hybrid), rerank, and fit a cited context in budget.

The pieces of lecture 21 ("Fundamentals of Context Engineering") as one pipeline:

1. :func:`ingest` reads documents (:mod:`.ingest`), chunks them by tokens with overlap, embeds
   the chunks through any OpenAI-compatible ``/v1/embeddings`` and stores them in the
   persistent :class:`~.index.ChunkIndex` (unchanged documents are skipped by content hash).
2. :class:`Retriever` runs keyword search (BM25) and vector search and merges the two
   rankings with reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009:
   ``score(d) = Σ 1 / (k + rank_i(d))`` with ``k = 60``), which needs no score calibration
   between the two; an optional :class:`LLMReranker` re-scores the fused top candidates.
3. :func:`build_context` packs the best chunks, most relevant first, into a token budget and
   numbers them so an answer can cite ``[1]``, ``[2]`` back to ``source § section``.

Models are reached only through the OpenAI API, so the same code runs on ``sai serve`` or
any compatible server.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from scalable_ai.apps.index import ChunkIndex, IndexReport, StoredChunk
from scalable_ai.apps.ingest import TokenCounter, chunk_document, find_documents, load_document
from scalable_ai.errors import UserError

Mode = Literal["hybrid", "vector", "keyword"]
RRF_K = 60  # Cormack et al.'s constant: damps the head of each ranking, robust across tasks


class OpenAIEmbedder:
    """``texts -> unit vectors`` through ``client.embeddings.create`` in batches."""

    def __init__(self, client: object, model: str, batch_size: int = 64) -> None:
        self.client, self.model, self.batch_size = client, model, batch_size
        self.calls = 0

    def __call__(self, texts: list[str]) -> np.ndarray:
        import openai

        rows: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            try:
                answer = self.client.embeddings.create(model=self.model, input=batch)  # type: ignore[attr-defined]
            except openai.APIConnectionError as error:
                raise UserError(
                    f"cannot reach the embeddings server ({error}); start one with `sai serve`",
                    field="base_url",
                ) from error
            except openai.APIStatusError as error:
                raise UserError(
                    f"the server refused: {error.message}", field="embedding_model"
                ) from error
            self.calls += 1
            rows.extend(item.embedding for item in sorted(answer.data, key=lambda d: d.index))
        vectors = np.asarray(rows, dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)


def ingest(
    paths: list[Path],
    index: ChunkIndex,
    embed: OpenAIEmbedder,
    counter: TokenCounter,
    *,
    chunk_tokens: int = 200,
    overlap_tokens: int = 40,
    prune: bool = False,
) -> IndexReport:
    """Index every readable file under ``paths``; only new or changed files are embedded."""
    report = IndexReport()
    found = find_documents(paths)
    for path, source in found:
        document = load_document(path, source)
        if index.stored_hash(source) == document.content_hash:
            report.unchanged += 1
            continue
        chunks = chunk_document(document, counter, chunk_tokens, overlap_tokens)
        outcome = index.put(document, chunks, embed)
        setattr(report, outcome, getattr(report, outcome) + 1)
    if prune:
        report.removed = index.prune(source for _, source in found)
    report.chunks = index.count()
    return report


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """Fuse rankings of ids (best first) into one: (id, Σ 1/(k + rank)), best first."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


@dataclass(frozen=True)
class Hit:
    chunk: StoredChunk
    score: float
    keyword_rank: int | None = None
    vector_rank: int | None = None


class LLMReranker:
    """Pointwise reranking by a chat model: P("yes") that a passage answers the question,
    read from the first token's log-probabilities (the "yes/no" relevance prompt of
    monoT5, Nogueira et al. 2020, asked of a chat model instead)."""

    def __init__(self, client: object, model: str) -> None:
        self.client, self.model = client, model

    def score(self, question: str, passage: str) -> float:
        prompt = (
            f"Passage:\n{passage}\n\nQuestion: {question}\n"
            "Does the passage answer the question? Answer yes or no."
        )
        answer = self.client.chat.completions.create(  # type: ignore[attr-defined]
            model=self.model,
            messages=[{"role": "user", "content": prompt}],
            max_tokens=1,
            temperature=0,
            logprobs=True,
            top_logprobs=5,
        )
        choice = answer.choices[0]
        yes = no = 0.0
        for item in choice.logprobs.content[0].top_logprobs if choice.logprobs else []:
            word = item.token.strip().lower()
            if word == "yes":
                yes += math.exp(item.logprob)
            elif word == "no":
                no += math.exp(item.logprob)
        if yes + no == 0:
            return 1.0 if (choice.message.content or "").strip().lower().startswith("yes") else 0.0
        return yes / (yes + no)


@dataclass
class Retriever:
    """Hybrid retrieval over one index; ``mode`` picks keyword, vector or both fused."""

    index: ChunkIndex
    embed: OpenAIEmbedder | None
    mode: Mode = "hybrid"
    candidates: int = 40  # how deep each ranking is read before fusion
    reranker: LLMReranker | None = None
    rerank_depth: int = 10

    def search(self, query: str, k: int = 5) -> list[Hit]:
        if not query.strip():
            raise UserError("the question is empty", field="query")
        keyword: list[int] = []
        vector: list[int] = []
        if self.mode in ("hybrid", "keyword"):
            keyword = [i for i, _ in self.index.keyword_search(query, self.candidates)]
        if self.mode in ("hybrid", "vector"):
            if self.embed is None:
                raise UserError("vector search needs an embeddings server", field="mode")
            vector = [
                i for i, _ in self.index.vector_search(self.embed([query])[0], self.candidates)
            ]
        fused = reciprocal_rank_fusion([r for r in (keyword, vector) if r])
        depth = max(k, self.rerank_depth if self.reranker else k)
        top = fused[:depth]
        chunks = {c.id: c for c in self.index.chunks([i for i, _ in top])}
        hits = [
            Hit(
                chunks[i],
                score,
                keyword.index(i) + 1 if i in keyword else None,
                vector.index(i) + 1 if i in vector else None,
            )
            for i, score in top
            if i in chunks
        ]
        if self.reranker is not None:
            scored = [(self.reranker.score(query, h.chunk.text), h) for h in hits]
            hits = [
                Hit(h.chunk, s, h.keyword_rank, h.vector_rank)
                for s, h in sorted(scored, key=lambda pair: -pair[0])
            ]
        return hits[:k]


@dataclass
class Context:
    """The text handed to a model, the sources it cites (numbered as in the text), and the
    tokens it uses of the budget."""

    text: str
    citations: list[str] = field(default_factory=list)
    tokens: int = 0
    dropped: int = 0  # hits that did not fit


def build_context(hits: list[Hit], budget_tokens: int, counter: TokenCounter) -> Context:
    """Pack ``hits`` (best first) into ``budget_tokens``, each numbered with its citation;
    a hit that does not fit whole is skipped (a cut passage may drop the answer's clause)
    and the next, shorter one may still fit."""
    parts: list[str] = []
    citations: list[str] = []
    used = dropped = 0
    for hit in hits:
        block = f"[{len(citations) + 1}] ({hit.chunk.citation})\n{hit.chunk.text}\n"
        cost = counter.count(block)
        if used + cost > budget_tokens:
            dropped += 1
            continue
        parts.append(block)
        citations.append(hit.chunk.citation)
        used += cost
    return Context("\n".join(parts), citations, used, dropped)


def answer_prompt(question: str, context: Context) -> list[dict[str, str]]:
    """Chat messages asking for an answer grounded in ``context`` with [n] citations."""
    system = (
        "Answer the question using only the numbered sources below. Cite the sources you "
        "use as [1], [2]. If the sources do not contain the answer, say you do not know.\n\n"
        f"Sources:\n{context.text}"
    )
    return [{"role": "system", "content": system}, {"role": "user", "content": question}]
