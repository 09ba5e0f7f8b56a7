"""Part 2, hidden: fusion and metrics against the lab stack's, and fusion's speed."""

import random

import pytest

from scalable_ai.apps.context import reciprocal_rank_fusion
from scalable_ai.apps.rag_eval import Question, evaluate
from scalable_ai.kits.timing import median_ratio, ratio_credit


@pytest.mark.points(5)
def test_rrf_equals_the_lab_stacks(submission):
    """Random rankings (overlapping, of different lengths, one to four of them), k of 1 and
    60: the same ids, order and scores as scalable_ai.apps.context.reciprocal_rank_fusion."""
    fuse = submission.module("fusion").reciprocal_rank_fusion
    rng = random.Random(5)
    for _ in range(200):
        rankings = [rng.sample(range(30), rng.randint(1, 20)) for _ in range(rng.randint(1, 4))]
        for k in (1, 60):
            ours, theirs = fuse(rankings, k=k), reciprocal_rank_fusion(rankings, k=k)
            assert [i for i, _ in ours] == [i for i, _ in theirs], rankings
            assert [s for _, s in ours] == pytest.approx([s for _, s in theirs], rel=1e-12)


class _FixedRetriever:
    """Returns, for each question, hits whose first relevant one is at a fixed rank."""

    def __init__(self, lab, ranks):
        self.lab, self.ranks, self.asked = lab, dict(ranks), 0

    def search(self, question, k):
        rank = self.ranks[question]
        hits = [self.lab.hit(i, "nothing here", source="other.md") for i in range(k)]
        if rank is not None and rank <= k:
            hits[rank - 1] = self.lab.hit(rank, "the answer is 42", source="syllabus.txt")
        return hits


@pytest.mark.points(3)
def test_metrics_equal_the_lab_evaluate(submission):
    """recall@1/3/5/10 and MRR from the first relevant ranks equal
    scalable_ai.apps.rag_eval.evaluate over a retriever that puts them there."""
    fusion, lab = submission.module("fusion"), submission.module("a5_lab")
    rng = random.Random(6)
    ranks = {f"q{i}": rng.choice([None, 1, 2, 3, 4, 5, 7, 10]) for i in range(40)}
    questions = [Question(q, "syllabus.txt", "answer is 42") for q in ranks]
    theirs = evaluate(_FixedRetriever(lab, ranks), questions)
    first = list(ranks.values())
    for k in (1, 3, 5, 10):
        assert fusion.recall_at_k(first, k) == pytest.approx(theirs[f"recall@{k}"])
    assert fusion.mean_reciprocal_rank(first) == pytest.approx(theirs["mrr"])


@pytest.mark.points(4)
def test_rrf_speed_against_the_lab_stack(submission, credit):
    """Fusing a keyword and a vector ranking of 20,000 chunks each takes at most 2x the lab
    stack's reciprocal_rank_fusion for full credit, none from 8x (median of 7 alternated
    repeats): one pass over each ranking, a dict, one sort."""
    fuse = submission.module("fusion").reciprocal_rank_fusion
    rng = random.Random(7)
    rankings = [rng.sample(range(30_000), 20_000) for _ in range(2)]
    ratio = median_ratio(
        lambda: reciprocal_rank_fusion(rankings), lambda: fuse(rankings), repeats=7
    )
    credit.fraction = ratio_credit(ratio, full_at=2.0, zero_at=8.0)
    credit.note = f"your reciprocal_rank_fusion took {ratio:.2f}x the lab stack's"
