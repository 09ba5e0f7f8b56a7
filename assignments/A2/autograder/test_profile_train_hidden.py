"""Part 6, hidden: the curves are real training curves."""

import pytest


@pytest.mark.points(5)
def test_both_optimizers_learn_the_stream(submission):
    """Over 12 steps both losses fall (the last below the first by 5%), starting from the same
    model (equal first losses)."""
    results = submission.module("profile_train").measure(steps=12)
    adamw, muon = results["adamw"]["losses"], results["muon"]["losses"]
    assert adamw[0] == pytest.approx(muon[0], rel=1e-6)
    for losses in (adamw, muon):
        assert losses[-1] < 0.95 * losses[0], losses
