"""Sampling from a masked diffusion LM: unmask a fully masked answer in a set number of steps.

The reverse process as LLaDA runs it (Nie et al. 2025, Algorithm 4 and 5): the answer starts
as ``gen_length`` ``[MASK]`` tokens after the prompt. Each step runs the bidirectional
denoiser once over the whole sequence, proposes a token for every masked position, and
commits only as many as the schedule allows this step (the answer's masks spread evenly over
the steps); the rest are re-masked and proposed again next step. Which proposals are kept:

- ``confidence``: the ones the model is surest of (highest probability of the proposed
  token), LLaDA's "low-confidence remasking", which beats random choice in their ablation;
- ``random``: uniformly chosen ones, the reverse process of the forward masking as written.

``block_length`` splits the answer into blocks unmasked left to right, each with its share of
the steps (semi-autoregressive sampling, LLaDA §B.3; Arriola et al. 2025 "block diffusion"):
a later block stays masked, and visible as masks, until the earlier ones are done. Steps
trade quality for speed: one forward per step whatever ``gen_length`` is, against one per
token for an autoregressive model (``steps == gen_length`` commits one token per step).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from scalable_ai.errors import UserError
from scalable_ai.model.config import ModelConfig


@dataclass
class DiffusionSample:
    """Token ids (num_samples, prompt + gen_length) and the denoiser calls it took."""

    ids: torch.Tensor
    forward_passes: int


def unmask_schedule(masked: int, steps: int) -> list[int]:
    """How many of ``masked`` tokens to commit at each of ``steps`` steps (earlier steps take
    the remainder, so the counts differ by at most one and sum to ``masked``)."""
    base, extra = divmod(masked, steps)
    return [base + (1 if step < extra else 0) for step in range(steps)]


def _propose(
    logits: torch.Tensor, temperature: float, generator: torch.Generator | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(proposed tokens, their probabilities) per position; Gumbel-max draws at temperature."""
    logits = logits.float()
    probabilities = torch.softmax(logits, dim=-1)
    if temperature > 0:
        uniform = torch.rand(logits.shape, device=logits.device, generator=generator)
        gumbel = -torch.log(-torch.log(uniform.clamp_min(1e-20)))
        tokens = (logits / temperature + gumbel).argmax(dim=-1)
    else:
        tokens = logits.argmax(dim=-1)
    return tokens, probabilities.gather(-1, tokens[..., None]).squeeze(-1)


@torch.no_grad()
def diffusion_generate(
    model: nn.Module,
    prompt_ids: list[int],
    gen_length: int,
    steps: int,
    block_length: int = 0,
    temperature: float = 0.0,
    remasking: str = "confidence",
    num_samples: int = 1,
    generator: torch.Generator | None = None,
) -> DiffusionSample:
    """Sample ``num_samples`` answers of ``gen_length`` tokens after ``prompt_ids``.

    ``steps`` is the total number of denoiser calls; with blocks, each block gets
    ``steps / blocks`` of them (``steps`` must divide evenly).
    """
    config: ModelConfig = model.config  # type: ignore[assignment]  # the model family's seam
    if config.causal or config.mask_token_id < 0:
        raise UserError("not a masked diffusion model (causal, or no mask token)", field="model")
    block_length = block_length or gen_length
    if gen_length <= 0:
        raise UserError("must be positive", field="gen_length")
    if gen_length % block_length:
        raise UserError(
            f"gen_length {gen_length} is not a multiple of {block_length}", field="block_length"
        )
    blocks = gen_length // block_length
    if steps <= 0 or steps % blocks:
        raise UserError(f"must be a positive multiple of the {blocks} blocks", field="steps")
    if steps // blocks > block_length:
        raise UserError(
            f"at most one step per token: {steps // blocks} steps for blocks of {block_length}",
            field="steps",
        )
    if remasking not in ("confidence", "random"):
        raise UserError("must be 'confidence' or 'random'", field="remasking")
    if len(prompt_ids) + gen_length > config.max_seq_len:
        raise UserError(
            f"prompt + answer is {len(prompt_ids) + gen_length} tokens, over the model's "
            f"max_seq_len {config.max_seq_len}",
            field="gen_length",
        )
    device = next(model.parameters()).device
    mask_id = config.mask_token_id
    prompt = torch.tensor(prompt_ids, dtype=torch.long, device=device)
    answer = torch.full((gen_length,), mask_id, dtype=torch.long, device=device)
    x = torch.cat((prompt, answer)).repeat(num_samples, 1)
    rows = torch.arange(num_samples, device=device)[:, None]
    passes = 0
    for block in range(blocks):
        start = len(prompt_ids) + block * block_length
        for count in unmask_schedule(block_length, steps // blocks):
            logits = model(x)
            passes += 1
            logits[..., mask_id] = float("-inf")  # never propose the mask itself
            tokens, confidence = _propose(logits, temperature, generator)
            if remasking == "random":
                confidence = torch.rand(confidence.shape, device=device, generator=generator)
            candidates = x.eq(mask_id)
            candidates[:, start + block_length :] = False  # later blocks wait their turn
            confidence = torch.where(candidates, confidence, float("-inf"))
            chosen = confidence.topk(count, dim=-1).indices  # (num_samples, count)
            x[rows, chosen] = tokens[rows, chosen]
    return DiffusionSample(ids=x, forward_passes=passes)
