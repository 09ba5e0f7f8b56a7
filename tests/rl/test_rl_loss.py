"""The GRPO family's loss on hand-computed batches: every number below is worked out by hand
from the formulas in ``post/rl_loss.py``'s docstring (GRPO, DAPO, Dr. GRPO, RLOO, the engine
correction), so a change to any term shows up here."""

from __future__ import annotations

import math

import pytest
import torch

from scalable_ai.post.rl_loss import (
    BatchTotals,
    LossOutput,
    LossSettings,
    group_advantages,
    policy_loss,
    token_logprobs,
)

LN2 = math.log(2.0)


def test_grpo_advantage_is_reward_minus_group_mean_over_sample_std():
    # rewards 1,0,0,1: mean 0.5, sample std sqrt((4 * 0.25) / 3) = 0.577350; A = ±0.5 / (0.577350 + 1e-4)
    advantages = group_advantages(torch.tensor([[1.0, 0.0, 0.0, 1.0]]))
    expected = 0.5 / (0.5773503 + 1e-4)  # 0.865876
    assert advantages.tolist()[0] == pytest.approx(
        [expected, -expected, -expected, expected], abs=1e-5
    )


def test_dr_grpo_advantage_is_not_divided_by_the_std():
    # rewards 1,0,0: mean 1/3 -> 2/3, -1/3, -1/3
    advantages = group_advantages(torch.tensor([[1.0, 0.0, 0.0]]), scale_by_std=False)
    assert advantages.tolist()[0] == pytest.approx([2 / 3, -1 / 3, -1 / 3], abs=1e-6)


def test_rloo_baseline_is_the_mean_of_the_other_samples():
    # 1 - mean(0, 0) = 1; 0 - mean(1, 0) = -0.5 (twice)
    advantages = group_advantages(
        torch.tensor([[1.0, 0.0, 0.0]]), baseline="leave_one_out", scale_by_std=False
    )
    assert advantages.tolist()[0] == pytest.approx([1.0, -0.5, -0.5], abs=1e-6)


def test_a_failed_reward_is_left_out_of_its_groups_statistics():
    # the third sample's reward function raised: mean of (1, 0) = 0.5 -> 0.5, -0.5, and 0
    rewards = torch.tensor([[1.0, 0.0, 5.0]])
    valid = torch.tensor([[True, True, False]])
    advantages = group_advantages(rewards, scale_by_std=False, valid=valid)
    assert advantages.tolist()[0] == pytest.approx([0.5, -0.5, 0.0], abs=1e-6)


def test_a_group_of_equal_rewards_carries_no_signal():
    assert group_advantages(torch.tensor([[1.0, 1.0, 1.0]])).abs().max() == 0.0


# A batch of two completions: the first has two loss tokens, the second one (then padding).
# logp: ln 1/2 everywhere; the reference: ln 1/4, ln 1/2 | ln 1 (=0); advantages 1 and -2.
# On the first update old = logp, so ratio = 1 and each token's surrogate loss is -A:
#   -1, -1 | +2.
# k3 with d = ref - logp: d = ln 1/2 -> 1/2 + ln 2 - 1 = 0.193147; d = 0 -> 0; d = ln 2 -> 2 - ln 2 - 1 = 0.306853.
# With beta 0.1: per token -1 + 0.0193147, -1 | 2 + 0.0306853.
LOGP = torch.log(torch.tensor([[0.5, 0.5], [0.5, 0.5]]))
REF = torch.log(torch.tensor([[0.25, 0.5], [1.0, 0.5]]))
MASK = torch.tensor([[1.0, 1.0], [1.0, 0.0]])
ADVANTAGES = torch.tensor([1.0, -2.0])
SEQUENCE_ONE = (-1 + 0.0193147) + (-1.0)  # -1.9806853
SEQUENCE_TWO = 2 + 0.0306853


def _loss(aggregation: str, **settings) -> float:
    logp = LOGP.clone().requires_grad_(True)
    config = LossSettings(aggregation=aggregation, kl_coef=0.1, constant_length=4, **settings)
    return policy_loss(logp, ADVANTAGES, MASK, config, ref_logprobs=REF).loss.item()


def test_grpo_sequence_level_loss_averages_each_completion_then_the_batch():
    # (-1.9806853 / 2 + 2.0306853 / 1) / 2 = 0.5201713
    assert _loss("sequence") == pytest.approx((SEQUENCE_ONE / 2 + SEQUENCE_TWO) / 2, abs=1e-6)
    assert _loss("sequence") == pytest.approx(0.5201713, abs=1e-6)


def test_dapo_token_level_loss_weighs_every_token_the_same():
    # (-1.9806853 + 2.0306853) / 3 tokens = 0.05 / 3
    assert _loss("token") == pytest.approx(0.05 / 3, abs=1e-6)


def test_dr_grpo_loss_divides_by_a_constant_not_by_lengths():
    # 0.05 / (2 completions * 4 budget tokens)
    assert _loss("constant") == pytest.approx(0.05 / 8, abs=1e-6)


def test_kl_is_the_k3_estimator_and_is_reported_per_token():
    logp = LOGP.clone().requires_grad_(True)
    out = policy_loss(logp, ADVANTAGES, MASK, LossSettings(kl_coef=0.1), ref_logprobs=REF)
    assert out.kl_sum / out.tokens == pytest.approx((0.193147 + 0.0 + 0.306853) / 3, abs=1e-6)


def _clipped_batch(eps_high: float) -> tuple[torch.Tensor, LossOutput]:
    # Two one-token completions whose ratios are 0.3/0.2 = 1.5 (A = +1) and 0.2/0.4 = 0.5 (A = -1).
    old = torch.log(torch.tensor([[0.2], [0.4]]))
    logp = torch.log(torch.tensor([[0.3], [0.2]])).requires_grad_(True)
    settings = LossSettings(eps_low=0.2, eps_high=eps_high, kl_coef=0.0, aggregation="token")
    out = policy_loss(logp, torch.tensor([1.0, -1.0]), torch.ones(2, 1), settings, old_logprobs=old)
    return logp, out


def test_ppo_clip_symmetric():
    # ratio 1.5, A=+1: min(1.5, 1.2) = 1.2 -> -1.2;  ratio 0.5, A=-1: min(-0.5, -0.8) = -0.8 -> +0.8
    _, out = _clipped_batch(eps_high=0.2)
    assert out.loss.item() == pytest.approx((-1.2 + 0.8) / 2, abs=1e-6)
    assert out.clipped_tokens == 2.0


def test_dapo_clip_higher_lets_a_rising_token_go_further():
    # eps_high 0.28: min(1.5, 1.28) = 1.28 -> -1.28; the falling token still clips at 0.8
    logp, out = _clipped_batch(eps_high=0.28)
    assert out.loss.item() == pytest.approx((-1.28 + 0.8) / 2, abs=1e-6)
    out.loss.backward()
    assert logp.grad.abs().max() == 0.0  # both tokens are on the clipped branch: no gradient


def test_an_unclipped_token_has_the_ratio_times_advantage_gradient():
    # ratio 1.1, A = +1: loss -1.1, d loss / d logp = -ratio = -1.1
    old = torch.log(torch.tensor([[0.5]]))
    logp = torch.log(torch.tensor([[0.55]])).requires_grad_(True)
    settings = LossSettings(kl_coef=0.0, aggregation="token")
    out = policy_loss(logp, torch.tensor([1.0]), torch.ones(1, 1), settings, old_logprobs=old)
    out.loss.backward()
    assert out.loss.item() == pytest.approx(-1.1, abs=1e-6)
    assert float(logp.grad) == pytest.approx(-1.1, abs=1e-6)
    assert out.clipped_tokens == 0.0


def test_engine_correction_weighs_tokens_by_the_truncated_ratio_to_the_engine():
    # old = logp (first update); engine lower by ln 2 -> w 2; lower by ln 4 -> 4, capped at 2;
    # higher by ln 2 -> w 0.5. A = 1, ratio 1: per-token loss -w = -2, -2, -0.5; token mean -1.5.
    logp = torch.log(torch.tensor([[0.5, 0.5, 0.5]])).requires_grad_(True)
    engine = logp.detach() + torch.tensor([[-LN2, -2 * LN2, LN2]])
    settings = LossSettings(kl_coef=0.0, aggregation="token", importance_cap=2.0)
    out = policy_loss(logp, torch.tensor([1.0]), torch.ones(1, 3), settings, engine_logprobs=engine)
    assert out.loss.item() == pytest.approx(-1.5, abs=1e-6)
    assert out.importance_weight_sum / out.tokens == pytest.approx(1.5, abs=1e-6)
    off = LossSettings(kl_coef=0.0, aggregation="token", importance_cap=0.0)
    plain = policy_loss(logp, torch.tensor([1.0]), torch.ones(1, 3), off, engine_logprobs=engine)
    assert plain.loss.item() == pytest.approx(-1.0, abs=1e-6)


def test_one_step_off_policy_batch_is_weighted_by_old_over_engine():
    # Asynchronous: the engine sampled with older weights (engine log-prob ln 0.25) than the
    # trainer's policy before this update (old = ln 0.5): w = 0.5 / 0.25 = 2 (under the cap 3).
    logp = torch.log(torch.tensor([[0.5]])).requires_grad_(True)
    engine = torch.log(torch.tensor([[0.25]]))
    settings = LossSettings(kl_coef=0.0, aggregation="token", importance_cap=3.0)
    out = policy_loss(
        logp, torch.tensor([-1.0]), torch.ones(1, 1), settings, engine_logprobs=engine
    )
    assert out.loss.item() == pytest.approx(2.0, abs=1e-6)  # -(w * ratio * A) = -(2 * 1 * -1)


@pytest.mark.parametrize("aggregation", ["sequence", "token", "constant"])
def test_micro_batches_with_batch_totals_sum_to_the_whole_batch_loss(aggregation):
    torch.manual_seed(0)
    logp = -torch.rand(4, 5)
    mask = (torch.rand(4, 5) > 0.3).float()
    mask[:, 0] = 1.0
    advantages = torch.randn(4)
    settings = LossSettings(aggregation=aggregation, constant_length=5, kl_coef=0.0)
    whole = policy_loss(logp, advantages, mask, settings).loss
    totals = BatchTotals.of(mask)
    parts = sum(
        policy_loss(
            logp[i : i + 2], advantages[i : i + 2], mask[i : i + 2], settings, totals=totals
        ).loss
        for i in (0, 2)
    )
    assert float(parts) == pytest.approx(float(whole), abs=1e-6)


def test_token_logprobs_match_log_softmax():
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 7)
    targets = torch.randint(0, 7, (2, 3))
    expected = logits.log_softmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(token_logprobs(logits, targets), expected, atol=1e-6)
