"""Part 2 (lecture L21): hybrid retrieval's reciprocal rank fusion, and retrieval metrics.

Keyword search (BM25) and vector search score on scales that cannot be compared; reciprocal
rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009) uses only the ranks:
``score(d) = sum over rankings of 1 / (k + rank(d))`` with 1-based ranks and ``k = 60``.
recall@k is the share of questions whose first relevant chunk is within the first k hits;
MRR the mean of 1/rank of that chunk (0 when none was found), as in TREC's QA track. The lab
stack's ``scalable_ai.apps.context.reciprocal_rank_fusion`` and
``scalable_ai.apps.rag_eval.evaluate`` are the references.
"""

from __future__ import annotations

RRF_K = 60


def reciprocal_rank_fusion(rankings: list[list[int]], k: int = RRF_K) -> list[tuple[int, float]]:
    """(id, fused score) for every id in any ranking, best first; equal scores by id."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda pair: (-pair[1], pair[0]))


def recall_at_k(first_ranks: list[int | None], k: int) -> float:
    """Share of questions whose first relevant hit has a (1-based) rank of at most k; None
    means no relevant hit was returned."""
    return sum(1 for r in first_ranks if r is not None and r <= k) / max(len(first_ranks), 1)


def mean_reciprocal_rank(first_ranks: list[int | None]) -> float:
    """Mean over questions of 1/rank of the first relevant hit, 0 for None."""
    return sum(1.0 / r for r in first_ranks if r is not None) / max(len(first_ranks), 1)
