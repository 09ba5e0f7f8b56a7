"""Part 5, hidden: the profile's numbers are what they say they are."""

import pytest


@pytest.mark.points(5)
def test_bus_bandwidth_follows_its_definition(submission):
    """For each size, bus bandwidth = bytes * 2(N-1)/N / seconds (NCCL's all_reduce_perf
    definition), bytes = 4 * numel for float32, and sizes come back in the order asked."""
    profile = submission.module("profile_comm")
    rows = profile.measure(sizes=(2**6, 2**9), world_size=4, repeats=1)
    assert [row["numel"] for row in rows] == [2**6, 2**9]
    for row in rows:
        assert row["bytes"] == 4 * row["numel"]
        moved = row["bytes"] * 2 * 3 / 4
        assert row["ring_bus_gbps"] == pytest.approx(moved / row["ring_s"] / 1e9, rel=1e-6)
        assert row["builtin_bus_gbps"] == pytest.approx(moved / row["builtin_s"] / 1e9, rel=1e-6)
