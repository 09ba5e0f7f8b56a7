"""Part 5, hidden: clipping as torch clips, and one whole step."""

import pytest
import torch


@pytest.mark.points(5)
def test_clipping_matches_torch(submission, lab):
    """clip_grad_norm returns the global L2 norm before clipping and scales the gradients as
    torch.nn.utils.clip_grad_norm_ does (and leaves them alone under the limit)."""
    clip = submission.module("train_step").clip_grad_norm
    inputs, labels = lab.batch()
    for limit in (0.05, 1e6):
        ours, theirs = lab.micro_model(), lab.micro_model()
        for model in (ours, theirs):
            lab.token_loss(model(inputs), labels).backward()
        norm = clip(list(ours.parameters()), limit)
        expected = torch.nn.utils.clip_grad_norm_(theirs.parameters(), limit)
        assert float(norm) == pytest.approx(float(expected), rel=1e-5)
        for p, q in zip(ours.parameters(), theirs.parameters()):
            torch.testing.assert_close(p.grad, q.grad, atol=1e-7, rtol=1e-5)


@pytest.mark.points(4)
def test_a_clipped_accumulated_step_matches_the_lab_recipe(submission, lab):
    """One step of 2 micro-batches with clipping at 0.1 and AdamW returns the mean loss and the
    norm before clipping, and lands where the lab trainer's recipe lands."""
    train_step = submission.module("train_step").train_step
    inputs, labels = lab.batch(rows=8)
    micro = list(zip(inputs.chunk(2), labels.chunk(2)))
    model, reference = lab.micro_model(), lab.micro_model()
    loss, norm = train_step(
        model, micro, torch.optim.AdamW(model.parameters(), lr=1e-2), lab.token_loss, max_norm=0.1
    )
    optimizer = torch.optim.AdamW(reference.parameters(), lr=1e-2)
    losses = [lab.token_loss(reference(x), y) for x, y in micro]
    (sum(losses) / 2).backward()
    expected_norm = torch.nn.utils.clip_grad_norm_(reference.parameters(), 0.1)
    optimizer.step()
    assert loss == pytest.approx(float(sum(losses).detach()) / 2, rel=1e-5)
    assert norm == pytest.approx(float(expected_norm), rel=1e-4)
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p.detach(), q.detach(), atol=1e-6, rtol=1e-5)
