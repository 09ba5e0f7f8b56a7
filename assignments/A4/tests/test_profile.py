"""Part 4, visible: the profiling script runs and draws its plot (lecture 20)."""

import pytest


@pytest.mark.points(4)
def test_profile_writes_the_throughput_plot(submission, tmp_path):
    """``profile_engine.main(out, quick=True)`` writes throughput_vs_batch.png, a real PNG."""
    results = submission.module("profile_engine").main(tmp_path, quick=True)
    png = tmp_path / "throughput_vs_batch.png"
    assert png.is_file(), "no throughput_vs_batch.png written"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", "the plot is not a PNG file"
    assert results, "main() returned no measurements"
