"""Mixture-of-Experts feed-forward: a top-k router over SwiGLU experts.

Routing (Shazeer et al. 2017; Mixtral 2024): a linear router scores every expert for each
token, softmax turns scores into probabilities, each token goes to its ``k`` most probable
experts, and their outputs are mixed with those probabilities renormalized over the k.

Load balancing (Switch Transformer, Fedus et al. 2021, eq. 4): with ``f_e`` the fraction of
routed (token, slot) assignments that went to expert ``e`` and ``P_e`` the mean router
probability of ``e``, the auxiliary loss is ``E * sum_e f_e * P_e``. It is 1 when routing is
uniform and grows toward E when every token collapses onto one expert; only ``P`` carries a
gradient. ``Transformer.aux_loss()`` adds it up over layers, times ``moe_aux_loss_weight``.

Capacity and drop policy: with ``expert_capacity_factor = c > 0`` each expert takes at most
``ceil(c * N * k / E)`` assignments per forward (GShard, Lepikhin et al. 2020). Assignments
are served slot-major, all first choices (in token order) before any second choice, so a
token loses its second expert before any other token loses its first. A dropped assignment
contributes nothing; the token still flows on through the residual connection. ``c = 0``
(the default) means no limit and no drops.

Grouped computation: assignments are sorted by expert, scattered into one padded
(E, C, dim) buffer and every expert runs at once as a batched matmul (``torch.bmm``); no
Python loop over tokens or experts.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from scalable_ai.model.config import ModelConfig


def load_balance_loss(router_probs: torch.Tensor, expert_indices: torch.Tensor) -> torch.Tensor:
    """Switch Transformer auxiliary loss ``E * sum_e f_e P_e``.

    router_probs: (N, E) softmax over experts; expert_indices: (N, k) the chosen experts.
    """
    n_experts = router_probs.shape[-1]
    counts = torch.bincount(expert_indices.flatten(), minlength=n_experts)
    fraction_routed = counts.to(router_probs.dtype) / expert_indices.numel()
    mean_probability = router_probs.mean(dim=0)
    return n_experts * (fraction_routed * mean_probability).sum()


class MixtureOfExperts(nn.Module):
    """Drop-in replacement for the dense SwiGLU feed-forward (same input and output shape)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.n_experts = config.n_experts
        self.top_k = config.experts_per_token
        self.capacity_factor = config.expert_capacity_factor
        dim, hidden = config.dim, config.ffn_hidden
        self.router = nn.Linear(dim, self.n_experts, bias=False)
        # Expert weights stacked on a leading expert axis, nn.Linear's (out, in) layout.
        self.gate_weight = nn.Parameter(torch.empty(self.n_experts, hidden, dim))
        self.up_weight = nn.Parameter(torch.empty(self.n_experts, hidden, dim))
        self.down_weight = nn.Parameter(torch.empty(self.n_experts, dim, hidden))
        for weight in (self.gate_weight, self.up_weight, self.down_weight):
            nn.init.normal_(weight, std=config.init_std)
        self.aux_loss: torch.Tensor | None = None
        self.tokens_per_expert: torch.Tensor | None = None
        self.dropped_fraction = 0.0

    def capacity(self, n_tokens: int) -> int | None:
        """Most assignments one expert takes in a forward of n_tokens (None: unlimited)."""
        if self.capacity_factor <= 0:
            return None
        return max(1, math.ceil(self.capacity_factor * n_tokens * self.top_k / self.n_experts))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        tokens = x.reshape(-1, shape[-1])
        n_tokens = tokens.shape[0]
        # Route in at least f32: bf16 probabilities would flip near-tied top-k choices.
        router_logits = self.router(tokens)
        router_probs = F.softmax(router_logits.to(torch.promote_types(x.dtype, torch.float32)), -1)
        top_probs, top_experts = router_probs.topk(self.top_k, dim=-1)  # (N, k)
        top_probs = top_probs / top_probs.sum(dim=-1, keepdim=True)
        self.aux_loss = load_balance_loss(router_probs, top_experts)

        # Slot-major flattening: all first choices, then all second choices (drop priority).
        expert_of = top_experts.t().reshape(-1)
        token_of = torch.arange(n_tokens, device=x.device).repeat(self.top_k)
        weight_of = top_probs.t().reshape(-1).to(x.dtype)
        order = torch.sort(expert_of, stable=True).indices
        expert_of, token_of, weight_of = expert_of[order], token_of[order], weight_of[order]
        counts = torch.bincount(expert_of, minlength=self.n_experts)
        self.tokens_per_expert = counts
        starts = torch.cumsum(counts, 0) - counts
        slot_in_expert = torch.arange(expert_of.numel(), device=x.device) - starts[expert_of]

        limit = self.capacity(n_tokens)
        longest = int(counts.max())
        capacity = longest if limit is None else min(limit, longest)
        kept = slot_in_expert < capacity
        self.dropped_fraction = 1.0 - float(kept.sum()) / kept.numel()
        expert_of, token_of = expert_of[kept], token_of[kept]
        weight_of, slot_in_expert = weight_of[kept], slot_in_expert[kept]

        # One padded buffer, all experts in three batched matmuls.
        buffer = tokens.new_zeros(self.n_experts, capacity, shape[-1])
        buffer = buffer.index_put((expert_of, slot_in_expert), tokens[token_of])
        hidden = F.silu(torch.bmm(buffer, self.gate_weight.transpose(1, 2)))
        hidden = hidden * torch.bmm(buffer, self.up_weight.transpose(1, 2))
        expert_out = torch.bmm(hidden, self.down_weight.transpose(1, 2))  # (E, C, dim)

        contributions = expert_out[expert_of, slot_in_expert] * weight_of[:, None]
        out = tokens.new_zeros(tokens.shape).index_add(0, token_of, contributions)
        return out.reshape(shape)
