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
    # TODO(A5.3): one pass per ranking with 1-based ranks into a dict, one sort (a performance check).
    raise NotImplementedError("TODO(A5.3): reciprocal_rank_fusion")


def recall_at_k(first_ranks: list[int | None], k: int) -> float:
    """Share of questions whose first relevant hit has a (1-based) rank of at most k; None
    means no relevant hit was returned."""
    # TODO(A5.4): count ranks that are not None and at most k.
    raise NotImplementedError("TODO(A5.4): recall_at_k")


def mean_reciprocal_rank(first_ranks: list[int | None]) -> float:
    """Mean over questions of 1/rank of the first relevant hit, 0 for None."""
    # TODO(A5.4): 1/rank, 0 for None, averaged; 0.0 for no questions.
    raise NotImplementedError("TODO(A5.4): mean_reciprocal_rank")
