"""Parameter and FLOP counts from a config alone (no model needs to be built).

Conventions (Kaplan et al. 2020, Table 1; PaLM, Chowdhery et al. 2022, Appendix B): a
multiply-add is 2 FLOPs, so a forward pass costs 2 FLOPs per parameter a token touches
in a matrix multiply, plus attention's score and value products, ``2 * 2 * n_layers *
context * (n_heads * head_dim)`` per token at a given context length (counted in full, as
PaLM does, though a causal mask skips half of it on average). Training costs three
forwards (the backward pass is twice the forward): ``6N + 12 L H Q T``.

Embedding lookups are free (a gather), but a tied embedding is also the LM head, a real
matmul of ``vocab * dim``. For a Mixture of Experts only the ``k`` routed experts (and the
router) are active per token, so active parameters, not total, set the FLOPs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from scalable_ai.model.config import ModelConfig


@dataclass(frozen=True)
class ParameterCount:
    """Parameters by where they live; ``active`` is what one token's forward multiplies by."""

    embedding: int
    attention: int
    feed_forward: int
    norms: int
    lm_head: int  # 0 when tied to the embedding
    total: int
    active_per_token: int

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def count_parameters(config: ModelConfig) -> ParameterCount:
    dim, head = config.dim, config.head_size
    attention = dim * head * (config.n_heads * 2 + config.n_kv_heads * 2)  # q, o, k, v
    matrices = 2 if config.mlp_activation == "relu2" else 3  # ReLU²: up, down; SwiGLU: + gate
    expert = matrices * dim * config.ffn_hidden
    if config.n_experts:
        feed_forward = config.n_experts * expert + dim * config.n_experts  # + router
        active_feed_forward = config.experts_per_token * expert + dim * config.n_experts
    else:
        feed_forward = active_feed_forward = expert
    layers = config.n_layers
    embedding = config.vocab_size * dim
    lm_head = 0 if config.tie_embeddings else config.vocab_size * dim
    norms = layers * 2 * dim + dim + (layers * 2 * head if config.qk_norm else 0)
    total = embedding + lm_head + norms + layers * (attention + feed_forward)
    # One token multiplies by every attention and active-expert matrix and by the LM head.
    active = layers * (attention + active_feed_forward) + config.vocab_size * dim
    return ParameterCount(
        embedding=embedding,
        attention=layers * attention,
        feed_forward=layers * feed_forward,
        norms=norms,
        lm_head=lm_head,
        total=total,
        active_per_token=active,
    )


def attention_context(config: ModelConfig, context: int) -> int:
    """Keys one query attends to: the context, capped by the sliding window."""
    return min(context, config.sliding_window) if config.sliding_window else context


def forward_flops_per_token(config: ModelConfig, context: int) -> int:
    """FLOPs of one token's forward pass at a context of ``context`` tokens."""
    matmuls = 2 * count_parameters(config).active_per_token
    keys = attention_context(config, context)
    attention = 2 * 2 * config.n_layers * keys * config.n_heads * config.head_size
    return matmuls + attention


def training_flops_per_token(config: ModelConfig, context: int) -> int:
    """Forward plus backward (twice the forward): 3x the forward FLOPs."""
    return 3 * forward_flops_per_token(config, context)
