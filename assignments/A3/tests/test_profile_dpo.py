"""Part 5, visible: DPO's reward margin as a plot (lecture L11)."""

import pytest


@pytest.mark.points(5)
def test_profile_writes_the_margin_plot(submission, tmp_path):
    """profile_dpo.main trains a few steps and writes plots/dpo_margin.png."""
    history = submission.module("profile_dpo").main(tmp_path, quick=True)
    assert len(history["margin"]) == len(history["accuracy"]) == len(history["loss"]) == 8
    assert (tmp_path / "dpo_margin.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
