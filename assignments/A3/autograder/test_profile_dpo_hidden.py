"""Part 5, hidden: the curve is a real DPO run."""

import pytest


@pytest.mark.points(5)
def test_dpo_widens_the_reward_margin(submission):
    """Over 8 steps from a model equal to its reference, the margin starts at 0, grows, and
    every pair ends ranked right."""
    history = submission.module("profile_dpo").measure(steps=8)
    assert history["margin"][0] == pytest.approx(0.0, abs=1e-6)
    assert history["margin"][-1] > history["margin"][1] > 0
    assert history["accuracy"][-1] == 1.0
