"""Part 3, hidden: advantages against the lab stack's, and the clipped objective."""

import pytest
import torch

from scalable_ai.post.rl_loss import group_advantages as lab_group_advantages


@pytest.mark.points(7)
def test_advantages_equal_the_lab_stacks(submission):
    """Random 0/1 and real-valued rewards, 8 groups of 6, with and without the std scaling:
    equal to scalable_ai.post.rl_loss.group_advantages."""
    group_advantages = submission.module("advantages").group_advantages
    torch.manual_seed(4)
    for rewards in (torch.randint(0, 2, (8, 6)).float(), torch.randn(8, 6)):
        for scale in (True, False):
            torch.testing.assert_close(
                group_advantages(rewards, scale_by_std=scale),
                lab_group_advantages(rewards, scale_by_std=scale),
            )


@pytest.mark.points(8)
def test_the_clipped_objective_on_hand_computed_tokens(submission):
    """Two answers: a positive advantage whose ratio 1.5 is clipped to 1.2, a negative one
    whose ratio 0.5 is clipped to 0.8, masked padding ignored; minus the mean of the
    per-answer token means."""
    clipped_objective = submission.module("advantages").clipped_objective
    log = torch.log
    logp_old = torch.zeros(2, 3)
    logp_new = torch.stack([log(torch.tensor([1.5, 1.0, 9.0])), log(torch.tensor([0.5, 1.1, 1.0]))])
    mask = torch.tensor([[1, 1, 0], [1, 1, 1]])
    advantages = torch.tensor([2.0, -1.0])
    first = (1.2 * 2.0 + 1.0 * 2.0) / 2  # min(1.5*2, 1.2*2) and min(2, 2)
    second = (min(0.5 * -1, 0.8 * -1) + min(1.1 * -1, 1.1 * -1) + -1.0) / 3
    expected = -(first + second) / 2
    got = clipped_objective(logp_new, logp_old, advantages, mask, clip=0.2)
    assert got.item() == pytest.approx(expected, rel=1e-5)
