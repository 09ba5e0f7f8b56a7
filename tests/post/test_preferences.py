"""Reward model and DPO: each loss on a case computed by hand, the answer log-probability and
reward read where the papers read them, bad preference lines, and both commands end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from scalable_ai.errors import UserError
from scalable_ai.post.dpo import PreferenceLogprobs, preference_loss
from scalable_ai.post.preferences import (
    PreferencePair,
    encode_pair,
    pad_batch,
    read_preferences,
    sequence_logprobs,
)
from scalable_ai.post.reward import (
    RewardModel,
    bradley_terry_loss,
    load_reward_model,
    save_reward_model,
)
from tests.post.conftest import arithmetic_pairs, tiny_model
from tests.post.test_sft import sai

# ---- losses on hand-computed cases ---------------------------------------------------------


def test_bradley_terry_loss_by_hand():
    # pair 1: r_c - r_r = 2 - 0.5 = 1.5 -> -log σ(1.5) = log(1 + e^-1.5) = 0.201413
    # pair 2: r_c - r_r = 0 - 1 = -1   -> -log σ(-1)  = log(1 + e^1)    = 1.313262
    loss = bradley_terry_loss(torch.tensor([2.0, 0.0]), torch.tensor([0.5, 1.0]))
    assert float(loss) == pytest.approx((0.201413 + 1.313262) / 2, abs=1e-6)


# One pair: policy log π(chosen) = -10 over 4 tokens, log π(rejected) = -12 over 5 tokens;
# reference: -11 and -11.
POLICY = PreferenceLogprobs(
    torch.tensor([-10.0]), torch.tensor([-12.0]), torch.tensor([4.0]), torch.tensor([5.0])
)
REFERENCE = PreferenceLogprobs(
    torch.tensor([-11.0]), torch.tensor([-11.0]), torch.tensor([4.0]), torch.tensor([5.0])
)


def test_dpo_loss_by_hand():
    # β = 0.1: r_c = 0.1·(-10 + 11) = 0.1, r_r = 0.1·(-12 + 11) = -0.1;
    # loss = -log σ(0.2) = log(1 + e^-0.2) = 0.598139
    loss, chosen, rejected = preference_loss(POLICY, REFERENCE, "dpo", beta=0.1)
    assert float(loss) == pytest.approx(0.598139, abs=1e-6)
    assert (float(chosen), float(rejected)) == pytest.approx((0.1, -0.1))


def test_ipo_loss_by_hand():
    # Per-token log-ratios: chosen (-10 + 11)/4 = 0.25, rejected (-12 + 11)/5 = -0.2;
    # h = 0.45, target 1/(2β) = 5 -> (0.45 - 5)² = 20.7025
    loss, _, _ = preference_loss(POLICY, REFERENCE, "ipo", beta=0.1)
    assert float(loss) == pytest.approx(20.7025, abs=1e-4)


def test_simpo_loss_by_hand_needs_no_reference():
    # Average log-probs: chosen -10/4 = -2.5, rejected -12/5 = -2.4; β = 2, γ = 1:
    # -log σ(2·(-2.5 + 2.4) - 1) = -log σ(-1.2) = log(1 + e^1.2) = 1.463282
    loss, chosen, rejected = preference_loss(POLICY, None, "simpo", beta=2.0, simpo_gamma=1.0)
    assert float(loss) == pytest.approx(1.463282, abs=1e-6)
    assert (float(chosen), float(rejected)) == pytest.approx((-5.0, -4.8))


def test_dpo_and_ipo_refuse_to_run_without_a_reference():
    with pytest.raises(UserError):
        preference_loss(POLICY, None, "dpo")


def test_dpo_gradient_raises_chosen_and_lowers_rejected():
    """d loss / d log π(y_c) = -β σ(-(r_c - r_r)) < 0 (Rafailov et al. 2023, eq. 7)."""
    chosen = torch.tensor([-10.0], requires_grad=True)
    rejected = torch.tensor([-12.0], requires_grad=True)
    policy = PreferenceLogprobs(chosen, rejected, torch.ones(1), torch.ones(1))
    loss, _, _ = preference_loss(policy, REFERENCE, "dpo", beta=0.1)
    loss.backward()
    expected = 0.1 * (1 / (1 + math.exp(0.2)))  # β σ(-0.2)
    assert float(chosen.grad) == pytest.approx(-expected, abs=1e-6)
    assert float(rejected.grad) == pytest.approx(expected, abs=1e-6)


# ---- where log-probabilities and rewards are read ------------------------------------------

PAIR = PreferencePair([{"role": "user", "content": "2+3="}], "5", "6")


def test_answer_logprob_sums_only_the_answer_tokens(our_tokenizer):
    model = tiny_model()
    chosen, rejected = encode_pair(PAIR, our_tokenizer)
    batch = pad_batch([chosen, rejected], pad_id=0)
    with torch.no_grad():
        summed, counts = sequence_logprobs(model, batch)
        for row, example in enumerate([chosen, rejected]):
            log_probs = F.log_softmax(model(torch.tensor([example.ids]))[0], dim=-1)
            by_hand = sum(
                float(log_probs[i - 1, example.ids[i]])
                for i in range(1, len(example.ids))
                if example.loss_mask[i]
            )
            assert float(summed[row]) == pytest.approx(by_hand, abs=1e-5)
            assert int(counts[row]) == 2  # the answer digit and <|im_end|>


def test_reward_is_read_at_the_answers_last_token_whatever_the_padding(our_tokenizer, tmp_path):
    model = RewardModel(tiny_model()).eval()
    long_pair = PreferencePair([{"role": "user", "content": "2+3="}], "it is 5", "6")
    short, _ = encode_pair(PAIR, our_tokenizer)
    long, _ = encode_pair(long_pair, our_tokenizer)
    assert our_tokenizer.token(short.ids[pad_batch([short], 0).last.item()]) == "<|im_end|>"
    with torch.no_grad():
        together = model.score(pad_batch([short, long], pad_id=0))
        alone = model.score(pad_batch([short], pad_id=0))
    assert float(together[0]) == pytest.approx(float(alone[0]), abs=1e-5)
    folder = save_reward_model(model, our_tokenizer, tmp_path / "rm")
    reloaded, _ = load_reward_model(folder)
    with torch.no_grad():
        assert torch.allclose(reloaded.score(pad_batch([short, long], 0)), together, atol=1e-6)


def test_bad_preference_lines_name_file_line_and_field(tmp_path):
    path = tmp_path / "pairs.jsonl"
    lines = [
        json.dumps(arithmetic_pairs(1)[0]),
        json.dumps({"prompt": "1+1=", "chosen": 2, "rejected": "3"}),
        json.dumps({"prompt": [{"role": "user"}], "chosen": "2", "rejected": "3"}),
    ]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(UserError, match=rf"{path}:2: chosen: expected a string"):
        read_preferences(path)
    data = read_preferences(path, on_error="skip")
    assert len(data) == 1
    assert [(b.line, b.field) for b in data.skipped] == [(2, "chosen"), (3, "prompt[0].content")]


# ---- the commands --------------------------------------------------------------------------


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in arithmetic_pairs(80)))
    return path


COMMON = ("--train.progress", "false", "--train.precision", "float32", "--train.batch_size", "8")


def metrics_of(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_sai_rm_logs_held_out_pairwise_accuracy(tiny_base, pairs_file, capsys):
    code, out, err = sai(
        capsys,
        "rm",
        "--model",
        str(tiny_base),
        "--data.train",
        str(pairs_file),
        "--data.val_fraction",
        "0.25",
        "--train.steps",
        "6",
        "--train.eval_every",
        "3",
        "--optim.lr",
        "1e-3",
        *COMMON,
    )
    assert code == 0, err
    folder = Path(out.strip().splitlines()[-1])
    rows = metrics_of(folder.parent)
    assert [r["step"] for r in rows if "val_accuracy" in r] == [0, 3, 6]
    assert all(0.0 <= r["accuracy"] <= 1.0 for r in rows if "accuracy" in r)
    model, _ = load_reward_model(folder.parent)
    assert isinstance(model, RewardModel)


def test_sai_dpo_with_lora_logs_margins_and_accuracies_per_step(tiny_base, pairs_file, capsys):
    code, out, err = sai(
        capsys,
        "dpo",
        "--model",
        str(tiny_base),
        "--data.train",
        str(pairs_file),
        "--lora.rank",
        "4",
        "--lora.dropout",
        "0",
        "--optim.lr",
        "5e-3",
        "--train.steps",
        "4",
        "--train.log_every",
        "1",
        "--train.eval_every",
        "4",
        *COMMON,
    )
    assert code == 0, err
    model_dir = Path(out.strip().splitlines()[-1])
    rows = metrics_of(model_dir.parent)
    steps = [r for r in rows if "margin" in r]
    assert [r["step"] for r in steps] == [1, 2, 3, 4]
    assert all({"chosen_reward", "rejected_reward", "accuracy"} <= set(r) for r in steps)
    evals = [r for r in rows if "val_accuracy" in r]
    assert evals[0]["step"] == 0 and evals[0]["val_margin"] == pytest.approx(0.0, abs=1e-6)
    assert (model_dir.parent / "adapter" / "adapter_model.safetensors").is_file()
    from scalable_ai.model.registry import load_pretrained

    load_pretrained(model_dir)  # a plain checkpoint: what sai serve loads
