"""Part 6, visible: AdamW against Muon as loss curves (lecture L10)."""

import pytest


@pytest.mark.points(5)
def test_profile_writes_the_loss_curves(submission, tmp_path):
    """profile_train.main trains with both optimizers and writes plots/loss_curves.png."""
    profile = submission.module("profile_train")
    results = profile.main(tmp_path, quick=True)
    assert set(results) == {"adamw", "muon"}
    for run in results.values():
        assert len(run["losses"]) == 12 and run["seconds"] > 0
    assert (tmp_path / "loss_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
