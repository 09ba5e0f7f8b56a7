"""Part 4, hidden: AdamW against torch.optim.AdamW, Muon against the lab stack's, and AdamW's
speed against torch's in the same run."""

import pytest
import torch

from scalable_ai.kits.timing import median_ratio, ratio_credit
from scalable_ai.train.optim.muon import Muon


@pytest.mark.points(6)
def test_adamw_matches_torch_over_ten_steps(submission):
    """Ten steps with changing gradients and weight decay give torch.optim.AdamW's weights
    (float32, within 1e-6)."""
    adamw_step = submission.module("optim").adamw_step
    torch.manual_seed(0)
    start = torch.randn(5, 7)
    ours, theirs = start.clone(), torch.nn.Parameter(start.clone())
    reference = torch.optim.AdamW(
        [theirs], lr=0.01, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, foreach=False
    )
    state: dict = {}
    for step in range(10):
        grad = torch.randn(5, 7) * (step + 1)
        adamw_step(ours, grad, state, lr=0.01, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)
        theirs.grad = grad.clone()
        reference.step()
    torch.testing.assert_close(ours, theirs.detach(), atol=1e-6, rtol=1e-5)


@pytest.mark.points(6)
def test_muon_matches_the_lab_stack_over_three_steps(submission):
    """Three Muon steps (Nesterov momentum, weight decay) of a tall and a wide matrix give the
    lab stack's Muon's weights."""
    muon_step = submission.module("optim").muon_step
    torch.manual_seed(1)
    for shape in ((24, 8), (8, 24)):
        start = torch.randn(shape)
        ours, theirs = start.clone(), torch.nn.Parameter(start.clone())
        reference = Muon(
            [{"params": [theirs], "use_muon": True}], lr=0.02, momentum=0.95, weight_decay=0.01
        )
        state: dict = {}
        for _ in range(3):
            grad = torch.randn(shape)
            muon_step(ours, grad, state, lr=0.02, momentum=0.95, nesterov=True, weight_decay=0.01)
            theirs.grad = grad.clone()
            reference.step()
        torch.testing.assert_close(ours, theirs.detach(), atol=1e-5, rtol=1e-4, msg=str(shape))


@pytest.mark.points(4)
def test_adamw_speed_against_torch(submission, lab, credit):
    """An AdamW step over the micro model's parameters takes at most 2.5x torch.optim.AdamW's
    (single-tensor) time for full credit, none from 8x (median of 7 alternated repeats)."""
    adamw_step = submission.module("optim").adamw_step
    params = [p.detach().clone() for p in lab.micro_model().parameters()]
    grads = [torch.randn_like(p) for p in params]
    states: list[dict] = [{} for _ in params]
    reference_params = [torch.nn.Parameter(p.clone()) for p in params]
    for p, g in zip(reference_params, grads):
        p.grad = g
    reference = torch.optim.AdamW(reference_params, lr=1e-3, weight_decay=0.1, foreach=False)

    def yours():
        for _ in range(5):
            for p, g, s in zip(params, grads, states):
                adamw_step(p, g, s, lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1)

    def torchs():
        for _ in range(5):
            reference.step()

    ratio = median_ratio(torchs, yours, repeats=7)
    credit.fraction = ratio_credit(ratio, full_at=2.5, zero_at=8.0)
    credit.note = f"your AdamW step took {ratio:.2f}x torch's"
