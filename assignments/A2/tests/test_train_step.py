"""Part 5, visible: gradient accumulation (lecture L6, the training loop)."""

import pytest
import torch


@pytest.mark.points(6)
def test_four_micro_batches_of_two_equal_one_batch_of_eight(submission, lab):
    """Accumulating 4 micro-batches of 2 rows gives the gradients of one batch of 8 rows."""
    train_step = submission.module("train_step").train_step
    inputs, labels = lab.batch(rows=8)
    reference = lab.micro_model()
    lab.token_loss(reference(inputs), labels).backward()
    model = lab.micro_model()
    micro = list(zip(inputs.chunk(4), labels.chunk(4)))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: only the gradients matter
    train_step(model, micro, optimizer, lab.token_loss, max_norm=1e9)
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        torch.testing.assert_close(p.grad, q.grad, atol=1e-6, rtol=1e-4, msg=name)
