"""Part 1, visible: the SFT loss mask (lectures L11–L13)."""

import pytest
import torch


@pytest.mark.points(6)
def test_a_label_is_trained_when_the_next_token_is_the_assistants(submission):
    """ids [u u a a e] with the assistant's tokens (and end of turn) marked: the labels
    predict each assistant token from the token before it, and nothing else."""
    sft_labels = submission.module("loss_mask").sft_labels
    ids = [10, 11, 20, 21, 99]
    mask = [False, False, True, True, True]
    assert sft_labels(ids, mask) == [-100, 20, 21, 99, -100]


@pytest.mark.points(6)
def test_the_masked_loss_averages_over_trained_positions_only(submission):
    """Positions labelled -100 do not count: changing their logits changes nothing."""
    masked_loss = submission.module("loss_mask").masked_loss
    torch.manual_seed(0)
    logits = torch.randn(1, 4, 7)
    labels = torch.tensor([[-100, 3, -100, 5]])
    expected = torch.nn.functional.cross_entropy(logits[0, [1, 3]], torch.tensor([3, 5]))
    torch.testing.assert_close(masked_loss(logits, labels), expected)
    logits[0, 0] += 100.0
    torch.testing.assert_close(masked_loss(logits, labels), expected)
