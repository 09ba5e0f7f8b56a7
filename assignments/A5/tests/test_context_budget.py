"""Part 3, visible: a cited context within a token budget (lecture L21)."""

import pytest


@pytest.mark.points(6)
def test_context_by_hand(submission):
    """Blocks cost 1 word for "[n]", the citation's (one word here) and the text's: 7, 12
    and 5 tokens. With a budget of 12 the first and the third fit (exactly); the second is skipped, not cut, and the
    third is numbered [2]."""
    build_context = submission.module("context_budget").build_context
    lab = submission.module("a5_lab")
    hits = [
        lab.hit(0, "slack days: four per student", section=""),
        lab.hit(1, "a late hand-in without slack loses ten percent a day", section=""),
        lab.hit(2, "checkoffs are oral", source="handout.md", section=""),
    ]
    context = build_context(hits, 12, lab.WordCounter())
    assert context.citations == ["syllabus.txt", "handout.md"]
    assert context.text == (
        "[1] (syllabus.txt)\nslack days: four per student\n\n[2] (handout.md)\ncheckoffs are oral\n"
    )
    assert (context.tokens, context.dropped) == (12, 1)
