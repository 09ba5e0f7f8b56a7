"""Mixture of Experts: top-k routing, the load-balancing loss, capacity, grouped experts."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from scalable_ai.model.moe import MixtureOfExperts, load_balance_loss
from scalable_ai.model.transformer import Transformer


def _moe(make_tiny_config, **overrides) -> MixtureOfExperts:
    torch.manual_seed(0)
    fields = dict(dim=8, n_heads=2, n_kv_heads=1, ffn_hidden=12, n_experts=4, experts_per_token=2)
    fields.update(overrides)
    return MixtureOfExperts(make_tiny_config(**fields)).double()


def _per_token_reference(moe: MixtureOfExperts, tokens: torch.Tensor) -> torch.Tensor:
    """Mixtral's definition, one token at a time: sum over its top-k of p_e * expert_e(x)."""
    outputs = []
    for x in tokens:
        probs = F.softmax(moe.router(x), dim=-1)
        top_probs, top_experts = probs.topk(moe.top_k)
        top_probs = top_probs / top_probs.sum()
        out = torch.zeros_like(x)
        for p, e in zip(top_probs, top_experts, strict=True):
            hidden = F.silu(moe.gate_weight[e] @ x) * (moe.up_weight[e] @ x)
            out = out + p * (moe.down_weight[e] @ hidden)
        outputs.append(out)
    return torch.stack(outputs)


def test_grouped_experts_equal_the_per_token_definition(make_tiny_config):
    moe = _moe(make_tiny_config)
    x = torch.randn(3, 7, 8, dtype=torch.float64)
    torch.testing.assert_close(moe(x), _per_token_reference(moe, x.reshape(-1, 8)).reshape(3, 7, 8))


def test_moe_gradients_match_finite_differences(make_tiny_config):
    moe = _moe(make_tiny_config, dim=4, ffn_hidden=6, n_experts=3)
    x = torch.randn(4, 4, dtype=torch.float64, requires_grad=True)
    parameters = (moe.gate_weight, moe.up_weight, moe.down_weight, moe.router.weight)
    assert torch.autograd.gradcheck(lambda t, *_: moe(t), (x, *parameters))


def test_load_balance_loss_is_one_for_uniform_routing():
    """Fedus et al. 2021, eq. 4: E * sum f_e P_e = 1 at perfect balance (its minimum)."""
    n_tokens, n_experts = 8, 4
    uniform = torch.full((n_tokens, n_experts), 1 / n_experts)
    balanced = torch.arange(n_tokens).remainder(n_experts)[:, None]
    torch.testing.assert_close(load_balance_loss(uniform, balanced), torch.tensor(1.0))


def test_load_balance_loss_grows_to_expert_count_when_routing_collapses():
    n_tokens, n_experts = 8, 4
    collapsed = F.one_hot(torch.zeros(n_tokens, dtype=torch.long), n_experts).float()
    half = torch.cat([collapsed[:4], torch.full((4, n_experts), 1 / n_experts)])
    half_indices = torch.cat([torch.zeros(4, 1), torch.arange(4)[:, None]]).long()
    loss_collapsed = load_balance_loss(collapsed, torch.zeros(n_tokens, 1, dtype=torch.long))
    loss_half = load_balance_loss(half, half_indices)
    torch.testing.assert_close(loss_collapsed, torch.tensor(float(n_experts)))
    assert 1.0 < loss_half < loss_collapsed


def test_load_balance_loss_sends_gradient_to_the_router(make_tiny_config):
    moe = _moe(make_tiny_config)
    moe(torch.randn(10, 8, dtype=torch.float64))
    moe.aux_loss.backward()
    assert moe.router.weight.grad.abs().sum() > 0


def test_capacity_drops_overflow_in_token_order(make_tiny_config):
    """With every token sent to one expert and capacity ceil(c N k / E), later tokens overflow
    and pass through as zero (the residual carries them)."""
    moe = _moe(make_tiny_config, n_experts=2, experts_per_token=1, expert_capacity_factor=1.0)
    with torch.no_grad():
        moe.router.weight.zero_()
        moe.router.weight[0, 0] = 100.0
    x = torch.randn(6, 8, dtype=torch.float64)
    x[:, 0] = 1.0  # every token prefers expert 0
    out = moe(x)
    assert moe.capacity(6) == 3
    assert moe.dropped_fraction == 0.5
    assert (out[:3].abs().sum(-1) > 0).all() and (out[3:] == 0).all()
    torch.testing.assert_close(out[:3], _per_token_reference(moe, x[:3]))


def test_moe_transformer_trains_with_the_aux_loss(make_tiny_config):
    torch.manual_seed(0)
    model = Transformer(make_tiny_config(n_experts=4, experts_per_token=2))
    ids = torch.randint(0, 64, (2, 10))
    loss = model.loss(ids, torch.roll(ids, -1, 1))
    assert model.aux_loss() > 0
    loss.backward()
    router = model.layers[0].mlp.router.weight
    assert router.grad is not None and torch.isfinite(router.grad).all()
