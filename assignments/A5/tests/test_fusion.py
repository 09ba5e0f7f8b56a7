"""Part 2, visible: reciprocal rank fusion and retrieval metrics (lecture L21)."""

import pytest


@pytest.mark.points(4)
def test_rrf_by_hand(submission):
    """Keyword ranking [7, 3], vector ranking [3, 9], k = 60: chunk 3 scores 1/62 + 1/61,
    chunk 7 1/61, chunk 9 1/62 (ranks are 1-based)."""
    fuse = submission.module("fusion").reciprocal_rank_fusion
    fused = fuse([[7, 3], [3, 9]])
    assert [i for i, _ in fused] == [3, 7, 9]
    assert [s for _, s in fused] == pytest.approx([1 / 62 + 1 / 61, 1 / 61, 1 / 62])
    assert fuse([[1, 2]], k=0) == [(1, 1.0), (2, 0.5)]


@pytest.mark.points(4)
def test_recall_and_mrr_by_hand(submission):
    """First relevant ranks 1, 3, none, 2: recall@1 = 1/4, recall@3 = 3/4, MRR = (1 + 1/3 +
    0 + 1/2) / 4."""
    fusion = submission.module("fusion")
    ranks = [1, 3, None, 2]
    assert fusion.recall_at_k(ranks, 1) == pytest.approx(0.25)
    assert fusion.recall_at_k(ranks, 3) == pytest.approx(0.75)
    assert fusion.mean_reciprocal_rank(ranks) == pytest.approx((1 + 1 / 3 + 1 / 2) / 4)
    assert fusion.mean_reciprocal_rank([]) == 0.0
