"""Part 4, visible: AdamW's first step and Newton–Schulz orthogonalization (lectures L9–L10)."""

import pytest
import torch


@pytest.mark.points(5)
def test_adamw_first_step_moves_each_weight_by_lr(submission):
    """Bias correction makes Adam's first step lr * g / (|g| + eps) ~ lr * sign(g), whatever the
    gradient's scale; decoupled weight decay shrinks the weight by lr * wd on top."""
    adamw_step = submission.module("optim").adamw_step
    param = torch.tensor([1.0, -2.0, 3.0])
    grad = torch.tensor([1e-3, -5.0, 40.0])
    adamw_step(param, grad, {}, lr=0.1, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.5)
    decayed = torch.tensor([1.0, -2.0, 3.0]) * (1 - 0.1 * 0.5)
    torch.testing.assert_close(param, decayed - 0.1 * torch.sign(grad), atol=1e-5, rtol=0)


@pytest.mark.points(4)
def test_newton_schulz_makes_the_singular_values_near_one(submission):
    """Five quintic iterations bring every singular value of a random 16x48 matrix (and its
    transpose) into [0.6, 1.3], keeping the singular vectors."""
    newton_schulz = submission.module("optim").newton_schulz
    torch.manual_seed(0)
    for matrix in (torch.randn(16, 48), torch.randn(48, 16)):
        out = newton_schulz(matrix)
        assert out.shape == matrix.shape
        values = torch.linalg.svdvals(out)
        assert values.min() > 0.6 and values.max() < 1.3, values
        u, _, vt = torch.linalg.svd(matrix, full_matrices=False)
        polar = u @ vt  # the exact U V^T
        cosine = (out * polar).sum() / (out.norm() * polar.norm())
        assert cosine > 0.97, f"the result points away from U V^T (cosine {cosine:.3f})"
