"""Part 3, visible: the learning-rate schedule (lecture L9)."""

import pytest


@pytest.mark.points(4)
def test_warmup_reaches_the_peak_and_cosine_ends_at_the_floor(submission):
    """Warm-up climbs linearly from peak/warmup to the peak at step warmup-1; cosine ends at
    min_ratio * peak on the last step."""
    lr = submission.module("schedule").learning_rate
    peak = 1e-3
    assert lr(0, 100, 10, peak) == pytest.approx(1e-4)
    assert lr(9, 100, 10, peak) == pytest.approx(peak)
    assert lr(10, 100, 10, peak) == pytest.approx(peak)
    assert lr(99, 100, 10, peak) == pytest.approx(0.1 * peak)
