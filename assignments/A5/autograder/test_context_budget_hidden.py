"""Part 3, hidden: the context equals the lab stack's."""

import random

import pytest

from scalable_ai.apps.context import build_context as lab_build_context

WORDS = [
    "the",
    "slack",
    "day",
    "rule",
    "grants",
    "four",
    "days",
    "per",
    "student",
    "across",
    "all",
    "five",
    "assignments",
]


@pytest.mark.points(6)
def test_context_equals_the_lab_stacks(submission):
    """300 random lists of hits (sections, sources, lengths) and budgets: text, citations,
    tokens used and hits dropped equal scalable_ai.apps.context.build_context's."""
    build_context = submission.module("context_budget").build_context
    lab = submission.module("a5_lab")
    counter = lab.WordCounter()
    rng = random.Random(8)
    for _ in range(300):
        hits = [
            lab.hit(i, " ".join(rng.choices(WORDS, k=rng.randint(1, 30))),
                    source=rng.choice(["syllabus.txt", "docs/kits.md"]),
                    section=rng.choice(["", "Grading", "Slack days"]))
            for i in range(rng.randint(0, 8))
        ]  # fmt: skip
        budget = rng.randint(0, 120)
        ours, theirs = (
            build_context(hits, budget, counter),
            lab_build_context(hits, budget, counter),
        )
        assert (ours.text, ours.citations, ours.tokens, ours.dropped) == (
            theirs.text, theirs.citations, theirs.tokens, theirs.dropped,
        ), budget  # fmt: skip


@pytest.mark.points(3)
def test_a_block_that_fills_the_budget_exactly_fits(submission):
    """The budget is inclusive: a 6-token block fits a budget of 6; a budget of 5 drops it."""
    build_context = submission.module("context_budget").build_context
    lab = submission.module("a5_lab")
    hits = [lab.hit(0, "four slack days each")]  # "[1]", "(syllabus.txt)" and 4 words
    assert build_context(hits, 6, lab.WordCounter()).citations == ["syllabus.txt"]
    dropped = build_context(hits, 5, lab.WordCounter())
    assert (dropped.citations, dropped.tokens, dropped.dropped, dropped.text) == ([], 0, 1, "")
