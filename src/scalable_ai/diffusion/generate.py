"""Text in, text out for a masked diffusion LM: what ``sai generate`` and the trainer's sample
call. The answer is cut at the first stop token (the sampler always fills ``gen_length``)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from scalable_ai.diffusion.sampler import diffusion_generate


def sample_texts(
    model: nn.Module,
    tokenizer: Any,
    prompt: str,
    gen_length: int,
    steps: int = 0,
    block_length: int = 0,
    temperature: float = 0.0,
    remasking: str = "confidence",
    num_samples: int = 1,
    seed: int | None = None,
) -> list[str]:
    """``num_samples`` answers to ``prompt`` (``steps`` 0: one denoiser call per token)."""
    device = next(model.parameters()).device
    generator = None
    if seed is not None:
        generator = torch.Generator(device).manual_seed(seed)
    prompt_ids = tokenizer.encode(prompt)
    sample = diffusion_generate(
        model,
        prompt_ids,
        gen_length,
        steps or gen_length,
        block_length=block_length,
        temperature=temperature,
        remasking=remasking,
        num_samples=num_samples,
        generator=generator,
    )
    prompt_length = len(prompt_ids)
    stops = tokenizer.stop_ids()
    texts = []
    for row in sample.ids[:, prompt_length:].tolist():
        cut = next((i for i, token in enumerate(row) if token in stops), len(row))
        texts.append(tokenizer.decode(row[:cut], skip_special_tokens=True))
    return texts


def sample_text(model: nn.Module, tokenizer: Any, prompt: str, gen_length: int) -> str:
    """The prompt and one greedy answer (the trainer's readable smoke test)."""
    return prompt + sample_texts(model, tokenizer, prompt, gen_length)[0]
