"""Part 5, visible: profiling the ring (lecture: collectives and their cost)."""

import pytest


@pytest.mark.points(5)
def test_profile_writes_the_bandwidth_plot(submission, tmp_path):
    """profile_comm.main measures each size and writes plots/allreduce_bandwidth.png."""
    profile = submission.module("profile_comm")
    rows = profile.main(tmp_path, quick=True)
    assert len(rows) >= 2
    for row in rows:
        assert {
            "numel",
            "bytes",
            "ring_s",
            "builtin_s",
            "ring_bus_gbps",
            "builtin_bus_gbps",
        } <= set(row)
        assert row["ring_s"] > 0 and row["builtin_s"] > 0
    png = tmp_path / "allreduce_bandwidth.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
