"""Part 4, hidden: the measurements behind the plot are complete and consistent."""

import pytest


@pytest.mark.points(6)
def test_measurements_cover_the_batch_sizes_and_every_token(submission):
    """measure() runs every request to the end at each batch size, and larger batches need
    fewer engine steps (that is what continuous batching buys)."""
    results = submission.module("profile_engine").measure(
        batch_sizes=(1, 2, 8), num_requests=8, max_tokens=6
    )
    assert sorted(results) == [1, 2, 8]
    for row in results.values():
        assert row["output_tokens"] == 8 * 6
        assert row["tokens_per_s"] > 0
    assert results[1]["steps"] > results[2]["steps"] > results[8]["steps"]
