"""Part 2, visible: DPO (lecture L11; Rafailov et al. 2023)."""

import math

import pytest
import torch


@pytest.mark.points(6)
def test_dpo_loss_on_a_hand_computed_pair(submission):
    """Policy up 2 nats on the chosen answer and down 1 on the rejected, beta 0.5: rewards
    1 and -0.5, loss -log sigmoid(1.5)."""
    dpo_loss = submission.module("preference").dpo_loss
    loss, chosen, rejected = dpo_loss(
        torch.tensor([-8.0]), torch.tensor([-11.0]), torch.tensor([-10.0]), torch.tensor([-10.0]),
        beta=0.5,
    )  # fmt: skip
    assert chosen.item() == pytest.approx(1.0) and rejected.item() == pytest.approx(-0.5)
    assert loss.item() == pytest.approx(-math.log(1 / (1 + math.exp(-1.5))), rel=1e-6)


@pytest.mark.points(6)
def test_sequence_logprobs_sum_only_the_answer_tokens(submission):
    """The summed log-probability counts the labelled positions, not the -100 ones."""
    sequence_logprobs = submission.module("preference").sequence_logprobs
    torch.manual_seed(1)
    logits = torch.randn(2, 3, 5)
    labels = torch.tensor([[-100, 2, 4], [1, -100, -100]])
    logp = torch.log_softmax(logits, -1)
    expected = torch.stack([logp[0, 1, 2] + logp[0, 2, 4], logp[1, 0, 1]])
    torch.testing.assert_close(sequence_logprobs(logits, labels), expected)
