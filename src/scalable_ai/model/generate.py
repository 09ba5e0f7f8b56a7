"""KV-cached generation for one prompt: greedy, temperature, top-k, top-p; stop strings; streaming.

Autoregressive decoding recomputes nothing: the prompt's keys and values are computed once
(prefill) and kept in a :class:`KVCache`, then each step feeds the one new token (decode),
whose query attends over the cache. The cache is an ``AttentionBackend`` for the seam
described in ``transformer.py``; the inference engine's paged cache plugs in the same way.

Sampling (Holtzman et al. 2020 for nucleus/top-p): divide logits by the temperature, keep the
k most likely tokens, then the smallest set whose probability reaches p, and draw. A
temperature of 0 means greedy (argmax), which is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from scalable_ai.errors import UserError
from scalable_ai.model.attention import sliding_window_mask
from scalable_ai.model.tokenizer import StreamDecoder, Tokenizer
from scalable_ai.model.transformer import Transformer


class KVCache:
    """One contiguous key/value buffer per layer for a batch of sequences of equal length."""

    def __init__(
        self, model: Transformer, batch_size: int, max_len: int,
        dtype: torch.dtype | None = None, device: torch.device | None = None,
    ) -> None:
        config = model.config
        weight = model.embed.weight
        shape = (config.n_layers, batch_size, config.n_kv_heads, max_len, config.head_size)
        self.keys = torch.zeros(shape, dtype=dtype or weight.dtype, device=device or weight.device)
        self.values = torch.zeros_like(self.keys)
        self.max_len = max_len
        self.length = 0
        self.last_layer = config.n_layers - 1
        self.window = config.sliding_window

    def attend(
        self, layer_index: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
    ) -> torch.Tensor:
        start, new = self.length, q.shape[-2]
        end = start + new
        if end > self.max_len:
            raise UserError(f"sequence of {end} tokens exceeds the cache of {self.max_len}",
                            field="max_tokens")
        self.keys[layer_index, :, :, start:end] = k
        self.values[layer_index, :, :, start:end] = v
        first = max(0, end - new - self.window + 1) if self.window else 0
        keys = self.keys[layer_index, :, :, first:end]
        values = self.values[layer_index, :, :, first:end]
        gqa = q.shape[1] != keys.shape[1]
        if new == 1 and not self.window:
            out = F.scaled_dot_product_attention(q, keys, values, enable_gqa=gqa)
        elif start == 0 and not self.window:
            out = F.scaled_dot_product_attention(q, keys, values, is_causal=True, enable_gqa=gqa)
        else:
            mask = sliding_window_mask(
                torch.arange(start, end, device=q.device),
                torch.arange(first, end, device=q.device), self.window,
            )
            out = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, enable_gqa=gqa)
        if layer_index == self.last_layer:
            self.length = end
        return out


@dataclass
class SamplingParams:
    """How to pick each next token and when to stop."""

    max_new_tokens: int = 128
    temperature: float = 0.7
    top_k: int = 0  # 0: no top-k cut
    top_p: float = 1.0  # 1: no nucleus cut
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def validate(self) -> None:
        if self.max_new_tokens < 0:
            raise UserError("must be >= 0", field="max_tokens")
        if self.temperature < 0:
            raise UserError("must be >= 0 (0 is greedy)", field="temperature")
        if self.top_k < 0:
            raise UserError("must be >= 0 (0 disables it)", field="top_k")
        if not 0 < self.top_p <= 1:
            raise UserError("must be in (0, 1]", field="top_p")


def sample_next(
    logits: torch.Tensor, params: SamplingParams, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Next token ids (B,) from last-position logits (B, V)."""
    logits = logits.float()
    if params.temperature == 0:
        return logits.argmax(dim=-1)
    logits = logits / params.temperature
    if params.top_k and params.top_k < logits.shape[-1]:
        kth = logits.topk(params.top_k, dim=-1).values[..., -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if params.top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
        # Drop a token when the tokens before it already reach p (the first always stays).
        drop_sorted = (cumulative - sorted_logits.softmax(dim=-1)) >= params.top_p
        drop = drop_sorted.scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    probabilities = logits.softmax(dim=-1)
    return torch.multinomial(probabilities, 1, generator=generator).squeeze(-1)


@torch.inference_mode()
def generate_ids(
    model: Transformer,
    prompt_ids: Sequence[int],
    params: SamplingParams,
    stop_ids: set[int] | frozenset[int] = frozenset(),
) -> Iterator[int]:
    """Yield new token ids one at a time; stops at a stop id (not yielded) or the budget."""
    params.validate()
    if not prompt_ids:
        raise UserError("the prompt is empty", field="prompt")
    device = model.embed.weight.device
    total = len(prompt_ids) + params.max_new_tokens
    cache = KVCache(model, batch_size=1, max_len=total)
    generator = None
    if params.seed is not None:
        generator = torch.Generator(device=device).manual_seed(params.seed)
    ids = torch.tensor([list(prompt_ids)], device=device)
    last = torch.tensor([ids.shape[1] - 1], device=device)
    logits = model(ids, backend=cache, logits_indices=last)  # prefill: last position only
    position = torch.tensor([[ids.shape[1]]], device=device)
    for _ in range(params.max_new_tokens):
        token = sample_next(logits.reshape(1, -1), params, generator)
        token_id = int(token)
        if token_id in stop_ids:
            return
        yield token_id
        logits = model(token.view(1, 1), positions=position, backend=cache)
        position += 1


def _held_back(text: str, stops: Sequence[str]) -> int:
    """How many trailing characters of text could be the start of a stop string."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), 0, -1):
            if text.endswith(stop[:size]):
                longest = max(longest, size)
                break
    return longest


def stream_text(
    model: Transformer, tokenizer: Tokenizer, prompt: str, params: SamplingParams,
    add_bos: bool | None = None,
) -> Iterator[str]:
    """Yield the completion of prompt as text pieces; stop strings end it (and are not shown)."""
    decoder = StreamDecoder(tokenizer)
    text, shown = "", 0
    stops = tuple(s for s in params.stop if s)
    for token_id in generate_ids(model, tokenizer.encode(prompt, add_bos=add_bos), params,
                                 tokenizer.stop_ids()):
        text += decoder.push(token_id)
        # Trailing partial stops were held back, so a stop found now starts after `shown`.
        cut = min((text.find(stop) for stop in stops if stop in text), default=-1)
        if cut >= 0:
            if cut > shown:
                yield text[shown:cut]
            return
        ready = len(text) - _held_back(text, stops)
        if ready > shown:
            yield text[shown:ready]
            shown = ready
    if len(text) > shown:
        yield text[shown:]


def complete(
    model: Transformer, tokenizer: Tokenizer, prompt: str, params: SamplingParams
) -> str:
    """The whole completion of a raw prompt (no chat template)."""
    return "".join(stream_text(model, tokenizer, prompt, params))
