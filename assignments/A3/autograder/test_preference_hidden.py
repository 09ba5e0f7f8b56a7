"""Part 2, hidden: DPO against the lab stack's, and the log-probabilities' speed."""

import pytest
import torch

from scalable_ai.kits.timing import median_ratio, ratio_credit
from scalable_ai.post.dpo import PreferenceLogprobs, preference_loss
from scalable_ai.post.rl_loss import token_logprobs


@pytest.mark.points(8)
def test_dpo_matches_the_lab_stack(submission):
    """On 16 random pairs and three betas: loss, chosen and rejected rewards equal
    scalable_ai.post.dpo.preference_loss's, and so does the loss's gradient."""
    dpo_loss = submission.module("preference").dpo_loss
    torch.manual_seed(2)
    for beta in (0.05, 0.1, 1.0):
        pc, pr = (torch.randn(16) * 5 - 20).requires_grad_(), (torch.randn(16) * 5 - 20)
        rc, rr = torch.randn(16) * 5 - 20, torch.randn(16) * 5 - 20
        tokens = torch.full((16,), 4.0)
        ours = dpo_loss(pc, pr, rc, rr, beta)
        theirs = preference_loss(
            PreferenceLogprobs(pc, pr, tokens, tokens), PreferenceLogprobs(rc, rr, tokens, tokens),
            loss="dpo", beta=beta,
        )  # fmt: skip
        for a, b in zip(ours, theirs, strict=True):
            torch.testing.assert_close(a, b)
        (grad_ours,) = torch.autograd.grad(ours[0], pc)
        (grad_theirs,) = torch.autograd.grad(theirs[0], pc)
        torch.testing.assert_close(grad_ours, grad_theirs)


@pytest.mark.points(6)
def test_sequence_logprobs_speed_against_the_lab_stack(submission, credit):
    """Summed answer log-probabilities of 8 x 128 positions over 4096 token ids take at most
    3x the lab stack's gather-minus-logsumexp (token_logprobs) for full credit, none from
    12x (median of 7 alternated repeats): no (B, T, V) log-softmax copies, no Python loops."""
    sequence_logprobs = submission.module("preference").sequence_logprobs
    torch.manual_seed(3)
    logits = torch.randn(8, 128, 4096)
    labels = torch.randint(0, 4096, (8, 128))
    labels[:, :32] = -100

    def reference():
        trained = labels != -100
        (token_logprobs(logits, labels.clamp(min=0)) * trained).sum(-1)

    ratio = median_ratio(reference, lambda: sequence_logprobs(logits, labels), repeats=7)
    credit.fraction = ratio_credit(ratio, full_at=3.0, zero_at=12.0)
    credit.note = f"your sequence_logprobs took {ratio:.2f}x the lab stack's"
