"""The masked (absorbing-state) diffusion objective.

Forward process: each token of a clean sequence ``x0`` is independently replaced by the
``[MASK]`` token with probability ``t``, the time drawn once per sequence from U(0, 1]. The
denoiser (our transformer with ``causal=False``) sees the partly masked ``x_t`` whole and
predicts every masked token. With the linear schedule ``alpha_t = 1 - t`` the negative ELBO
of a sequence of ``L`` tokens is (MDLM, Sahoo et al. 2024, eq. 10; LLaDA, Nie et al. 2025,
eq. 3)

    NELBO(x0) = E_t [ (1/t) * sum_{i : x_t^i = [MASK]} -log p_theta(x0^i | x_t) ]

an upper bound on ``-log p(x0)``. Divided by ``L`` it is a bound in nats per token, directly
comparable with an autoregressive model's validation cross-entropy on the same tokens (the
bound is what :func:`masked_diffusion_loss` returns and what ``sai train --objective
diffusion`` logs as ``val_loss``). The ``1/t`` weight is what makes the average over masking
ratios a likelihood bound rather than a plain masked-LM loss (BERT's fixed 15% is one t).

Times are drawn stratified over the batch (``(i + u) / B``, one ``u`` per batch), the
low-discrepancy sampler MDLM uses to cut the variance of the ``1/t``-weighted estimate.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from scalable_ai.errors import UserError
from scalable_ai.model.config import ModelConfig

#: The smallest masking ratio drawn: 1/t stays at most 1000 (LLaDA uses the same floor).
MIN_TIME = 1e-3


def diffusion_model_config(model: ModelConfig, data_vocab_size: int) -> ModelConfig:
    """The denoiser's config for a model trained on ``data_vocab_size`` token ids.

    Attention becomes bidirectional and ``[MASK]`` gets the first id the data never uses;
    when the configured vocabulary has no such id it grows by one row (noted in the run).
    """
    mask_id = model.mask_token_id if model.mask_token_id >= 0 else data_vocab_size
    if mask_id < data_vocab_size:
        raise UserError(
            f"{mask_id} is a real token of the data (vocabulary {data_vocab_size}); the mask "
            "needs an id the data never uses",
            field="model.mask_token_id",
        )
    vocab = max(model.vocab_size, mask_id + 1)
    return ModelConfig.from_dict(
        {**model.to_dict(), "causal": False, "mask_token_id": mask_id, "vocab_size": vocab}
    )


def sample_times(
    batch: int, device: torch.device, generator: torch.Generator | None = None
) -> torch.Tensor:
    """One masking ratio per sequence in [MIN_TIME, 1], stratified over the batch."""
    offset = torch.rand((), device=device, generator=generator)
    strata = (torch.arange(batch, device=device) + offset) / batch
    return MIN_TIME + (1 - MIN_TIME) * strata


def mask_tokens(
    x0: torch.Tensor,
    t: torch.Tensor,
    mask_token_id: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(x_t, masked): each token of x0 (B, L) masked with its row's probability t (B,)."""
    draws = torch.rand(x0.shape, device=x0.device, generator=generator)
    masked = draws < t[:, None]
    return torch.where(masked, torch.full_like(x0, mask_token_id), x0), masked


def masked_diffusion_loss(
    logits: torch.Tensor, x0: torch.Tensor, masked: torch.Tensor, t: torch.Tensor
) -> torch.Tensor:
    """The NELBO estimate in nats per token, averaged over the batch.

    logits (B, L, V) from the denoiser on x_t; x0 (B, L) the clean tokens; masked (B, L) which
    tokens were masked; t (B,) each row's masking ratio.
    """
    token_nll = F.cross_entropy(logits.float().transpose(1, 2), x0, reduction="none")
    per_sequence = (token_nll * masked).sum(dim=1) / t
    return (per_sequence / x0.shape[1]).mean()


def diffusion_loss(
    model: nn.Module,
    x0: torch.Tensor,
    mask_token_id: int,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw times and masks for a batch of clean sequences and return the NELBO estimate."""
    t = sample_times(x0.shape[0], x0.device, generator)
    xt, masked = mask_tokens(x0, t, mask_token_id, generator)
    return masked_diffusion_loss(model(xt), x0, masked, t)
