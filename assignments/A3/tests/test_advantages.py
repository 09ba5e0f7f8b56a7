"""Part 3, visible: GRPO's group advantages (lecture L15; Shao et al. 2024)."""

import pytest
import torch


@pytest.mark.points(6)
def test_advantages_are_centred_and_scaled_per_group(submission):
    """Rewards [1, 0, 0, 1] and [1, 1, 1, 1]: the first group's advantages are +-1/std, the
    second (all equal) teaches nothing."""
    group_advantages = submission.module("advantages").group_advantages
    adv = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0], [1.0, 1.0, 1.0, 1.0]]))
    std = torch.tensor([1.0, 0.0, 0.0, 1.0]).std().item()  # sample std, n - 1
    torch.testing.assert_close(adv[0], torch.tensor([0.5, -0.5, -0.5, 0.5]) / (std + 1e-4))
    torch.testing.assert_close(adv[1], torch.zeros(4))
    unscaled = group_advantages(torch.tensor([[3.0, 1.0]]), scale_by_std=False)
    torch.testing.assert_close(unscaled, torch.tensor([[1.0, -1.0]]))
