"""The dense decoder: the inference seam, RoPE, grouped-query attention, tied embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from scalable_ai.model.transformer import Block, RotaryEmbedding, Transformer, rope_frequencies
from tests.model.seam import ConcatenatingCache


def _model(config, dtype=torch.float64):
    torch.manual_seed(0)
    return Transformer(config).to(dtype).eval()


def test_logits_indices_compute_the_head_only_where_asked(make_tiny_config):
    model = _model(make_tiny_config())
    ids = torch.randint(0, 64, (2, 9))
    full = model(ids)
    picked = model(ids, logits_indices=torch.tensor([8, 17, 3]))
    assert picked.shape == (3, 64)
    torch.testing.assert_close(picked, full.reshape(18, 64)[[8, 17, 3]])


def test_kv_cache_decoding_equals_the_full_forward(make_tiny_config):
    """Prefill, a multi-token chunk, then single tokens through the backend seam."""
    model = _model(make_tiny_config())
    ids = torch.randint(0, 64, (2, 12))
    full = model(ids)
    cache = ConcatenatingCache(model.config.n_layers)
    pieces = [model(ids[:, :5], backend=cache)]
    pieces.append(model(ids[:, 5:8], positions=torch.arange(5, 8).expand(2, 3), backend=cache))
    for position in range(8, 12):
        pieces.append(
            model(
                ids[:, position : position + 1],
                positions=torch.full((2, 1), position),
                backend=cache,
            )
        )
    torch.testing.assert_close(torch.cat(pieces, dim=1), full)


def test_rope_attention_scores_depend_only_on_relative_position(make_tiny_config):
    """Su et al. 2021: <R(m) q, R(n) k> is a function of m - n."""
    config = make_tiny_config()
    rotary = RotaryEmbedding(config).double()
    rotary.inv_freq = rotary.inv_freq.double()
    q, k = (
        torch.randn(1, 1, 1, 8, dtype=torch.float64),
        torch.randn(1, 1, 1, 8, dtype=torch.float64),
    )

    def score(m: int, n: int) -> torch.Tensor:
        cos_m, sin_m = rotary(torch.tensor([[m]]), torch.float64)
        cos_n, sin_n = rotary(torch.tensor([[n]]), torch.float64)
        return (rotary.rotate(q, cos_m, sin_m) * rotary.rotate(k, cos_n, sin_n)).sum()

    torch.testing.assert_close(score(7, 3), score(104, 100))
    assert not torch.allclose(score(7, 3), score(7, 4))


def test_linear_rope_scaling_interpolates_positions(make_tiny_config):
    """Chen et al. 2023: position m under factor s is rotated like position m / s."""
    plain = RotaryEmbedding(make_tiny_config())
    scaled = RotaryEmbedding(make_tiny_config(rope_scaling="linear", rope_scaling_factor=4.0))
    positions = torch.arange(0, 64, 4)[None]
    cos_scaled, _ = scaled(positions, torch.float32)
    cos_plain, _ = plain(positions // 4, torch.float32)
    torch.testing.assert_close(cos_scaled, cos_plain)


def test_llama3_rope_scaling_keeps_high_and_divides_low_frequencies(make_tiny_config):
    base = rope_frequencies(make_tiny_config(head_dim=64, rope_theta=500000.0))
    config = make_tiny_config(
        head_dim=64,
        rope_theta=500000.0,
        rope_scaling="llama3",
        rope_scaling_factor=8.0,
        rope_original_max_seq_len=64,
    )
    scaled = rope_frequencies(config)
    assert torch.equal(scaled[0], base[0])  # the fastest rotation is untouched
    torch.testing.assert_close(scaled[-1], base[-1] / 8)  # the slowest is divided by 8


def test_rope_theta_sets_the_frequency_ladder(make_tiny_config):
    frequencies = rope_frequencies(make_tiny_config(rope_theta=100.0))
    torch.testing.assert_close(frequencies, 100.0 ** (-torch.arange(0, 8, 2) / 8.0))


def test_grouped_query_attention_equals_attention_with_repeated_kv_heads(make_tiny_config):
    """Ainslie et al. 2023: each group of Hq/Hkv query heads shares one key/value head."""
    model = _model(make_tiny_config())
    attention = model.layers[0].attn
    x = torch.randn(1, 6, 32, dtype=torch.float64)
    cos, sin = model.rotary(torch.arange(6)[None], torch.float64)
    ours = attention(x, model.rotary, cos, sin, None)
    q = model.rotary.rotate(attention.q_proj(x).view(1, 6, 4, 8).transpose(1, 2), cos, sin)
    k = model.rotary.rotate(attention.k_proj(x).view(1, 6, 2, 8).transpose(1, 2), cos, sin)
    v = attention.v_proj(x).view(1, 6, 2, 8).transpose(1, 2)
    k, v = k.repeat_interleave(2, dim=1), v.repeat_interleave(2, dim=1)
    scores = (q @ k.transpose(-1, -2)) / 8**0.5
    scores = scores.masked_fill(torch.ones(6, 6, dtype=torch.bool).triu(1), float("-inf"))
    expected = attention.o_proj((scores.softmax(-1) @ v).transpose(1, 2).reshape(1, 6, 32))
    torch.testing.assert_close(ours, expected)


def test_tied_embeddings_share_one_matrix_and_untied_do_not(make_tiny_config):
    tied = Transformer(make_tiny_config())
    untied = Transformer(make_tiny_config(tie_embeddings=False))
    assert tied.lm_head.weight is tied.embed.weight
    assert untied.lm_head.weight is not untied.embed.weight


def test_block_gradients_match_finite_differences(make_tiny_config):
    torch.manual_seed(0)
    config = make_tiny_config(dim=16, n_heads=2, n_kv_heads=1, ffn_hidden=24)
    block = Block(config, 0).double()
    rotary = RotaryEmbedding(config)
    cos, sin = rotary(torch.arange(5)[None], torch.float64)
    x = torch.randn(1, 5, 16, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: block(t, rotary, cos, sin, None), (x,))


def test_training_loss_is_next_token_cross_entropy(make_tiny_config):
    model = _model(make_tiny_config(), dtype=torch.float32)
    ids = torch.randint(0, 64, (2, 8))
    targets = torch.roll(ids, -1, dims=1)
    targets[:, -1] = -100
    expected = F.cross_entropy(model(ids).flatten(0, 1), targets.flatten(), ignore_index=-100)
    loss = model.loss(ids, targets)
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert model.embed.weight.grad is not None and model.embed.weight.grad.abs().sum() > 0
