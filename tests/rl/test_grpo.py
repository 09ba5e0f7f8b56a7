"""GRPO on our engine: the engine's log-probabilities, the in-place weight swap, multi-turn
trajectories, failing reward functions, each variant from the one loop, and ``sai grpo``."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from scalable_ai.errors import UserError
from scalable_ai.post.envs import ENVIRONMENTS, Environment, Task, make_environment, register
from scalable_ai.post.grpo import VARIANTS, GRPOTrainer
from scalable_ai.post.rl_batch import make_rows, sequence_logprobs
from scalable_ai.post.rollout import Rollout, RolloutStats, RolloutWorker, prompt_ids
from scalable_ai.runs import load_run, open_run, read_metrics
from tests.rl.conftest import small_config


def test_engine_reports_each_sampled_tokens_logprob_as_the_trainer_computes_it(tiny_checkpoint):
    trainer = GRPOTrainer(small_config(tiny_checkpoint))
    batch = trainer.sample_batch()
    items = [(r, 0.0) for group in batch.kept for r in group]
    assert sum(r.num_sampled for r, _ in items) > 0
    rows = make_rows(items, trainer.device)
    with torch.no_grad():
        trainer_logprobs = sequence_logprobs(trainer.model, rows)
    chosen = rows.mask.bool()
    # float32 on both sides; the engine's fused kernels round differently only in the last bits
    torch.testing.assert_close(
        trainer_logprobs[chosen], rows.engine_logprobs[chosen], atol=2e-4, rtol=0
    )


def test_weights_are_updated_in_place_in_the_engine_after_each_step(tiny_checkpoint):
    trainer = GRPOTrainer(small_config(tiny_checkpoint, kl_coef=0.0, steps=1))
    before = {k: v.clone() for k, v in trainer.engine.model.state_dict().items()}
    engine_model = trainer.engine.model
    # Rewards that differ within a group make a gradient: the completion's length in bytes.
    trainer.env.reward = lambda task, completion: float(len(completion.encode()))  # type: ignore[method-assign]
    trainer.fit()
    assert trainer.engine.model is engine_model  # the same module, new values
    after = trainer.engine.model.state_dict()
    for name, value in trainer.model.state_dict().items():
        torch.testing.assert_close(after[name], value)
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_multi_turn_trajectory_keeps_sampled_tokens_and_masks_the_tools_reply(
    tiny_checkpoint, chat_tokenizer
):
    trainer = GRPOTrainer(small_config(tiny_checkpoint))
    env = make_environment("calculator")
    worker = RolloutWorker(trainer.engine, env, group_size=1, max_tokens=8)
    task = Task([{"role": "user", "content": "What is 2*3?"}], answer="6")
    call = "<calc>2*3</calc>"
    end = chat_tokenizer.token_id("<|im_end|>")
    sampled = [*chat_tokenizer.encode(call), end]
    episode = Rollout(0, task, prompt_ids(chat_tokenizer, task.messages))
    episode.completion_ids = list(sampled)
    episode.sampled_mask = [True] * len(sampled)
    episode.engine_logprobs = [-1.0] * len(sampled)
    episode.turns, episode.finish_reason = [call], "stop"
    assert worker._judge(episode, 0, RolloutStats())  # the tool answered: the episode goes on
    whole = chat_tokenizer.decode(episode.prompt_ids + episode.completion_ids)
    conversation = [
        *task.messages,
        {"role": "assistant", "content": call},
        {"role": "tool", "content": "6"},
    ]
    assert whole == chat_tokenizer.apply_chat_template(conversation, add_generation_prompt=True)
    added = len(episode.completion_ids) - len(sampled)
    assert added > 0
    assert episode.sampled_mask == [True] * len(sampled) + [False] * added
    assert episode.engine_logprobs[len(sampled) :] == [0.0] * added


def test_a_multi_turn_environment_trains_end_to_end(tiny_checkpoint):
    config = small_config(tiny_checkpoint, env="calculator", env_options={"max_turns": 2})
    result = GRPOTrainer(config).fit()
    assert result.steps == 2


class Fragile(Environment):
    """Arithmetic whose reward function raises on every odd answer length."""

    name = "fragile-test"

    def sample_task(self, rng: random.Random) -> Task:
        return Task([{"role": "user", "content": "1+1="}], answer="2")

    def reward(self, task: Task, completion: str) -> float:
        if len(completion) % 2:
            raise ZeroDivisionError("odd completion")
        return 1.0


@pytest.fixture
def fragile():
    register(Fragile)
    yield "fragile-test"
    ENVIRONMENTS.pop("fragile-test")


def test_a_reward_function_that_raises_is_recorded_and_the_run_goes_on(
    tiny_checkpoint, fragile, tmp_path
):
    config = small_config(tiny_checkpoint, env=fragile, env_options={}, group_size=8)
    with open_run("grpo", config=config, runs_dir=tmp_path) as run:
        GRPOTrainer(config, run).fit()
    records = [json.loads(line) for line in run.artifact("rollouts.jsonl").read_text().splitlines()]
    failed = [r for r in records if r["error"]]
    assert failed and all(r["error"] == "ZeroDivisionError: odd completion" for r in failed)
    rows = [r for r in read_metrics(load_run(run.path)) if "reward_errors" in r]
    assert sum(r["reward_errors"] for r in rows) == len(failed)
    assert load_run(run.path).status == "completed"


def test_a_reward_function_that_raises_fails_the_run_when_asked(tiny_checkpoint, fragile, tmp_path):
    config = small_config(
        tiny_checkpoint, env=fragile, env_options={}, group_size=8, on_reward_error="fail"
    )
    with pytest.raises(UserError, match="'fragile-test' raised ZeroDivisionError"):  # noqa: SIM117
        with open_run("grpo", config=config, runs_dir=tmp_path) as run:
            GRPOTrainer(config, run).fit()
    record = load_run(run.path)
    assert record.status == "failed" and "odd completion" in record.data["error"]


class Constant(Environment):
    name = "constant-test"

    def sample_task(self, rng: random.Random) -> Task:
        return Task([{"role": "user", "content": "2+2="}], answer="4")

    def reward(self, task: Task, completion: str) -> float:
        return 1.0


def test_dynamic_sampling_drops_groups_whose_rewards_are_all_equal(tiny_checkpoint):
    register(Constant)
    try:
        config = small_config(
            tiny_checkpoint, "dapo", env="constant-test", env_options={}, max_sampling_rounds=3
        )
        trainer = GRPOTrainer(config)
        batch = trainer.sample_batch()
    finally:
        ENVIRONMENTS.pop("constant-test")
    assert batch.kept == [] and batch.rounds == 3
    assert batch.dropped_groups == config.prompts_per_step * 3


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_each_variant_is_a_setting_of_the_one_loop(tiny_checkpoint, variant, tmp_path):
    config = small_config(tiny_checkpoint, variant, eval_every=1)
    with open_run("grpo", config=config, runs_dir=tmp_path) as run:
        result = GRPOTrainer(config, run).fit()
    assert result.steps == 2
    rows = [r for r in read_metrics(load_run(run.path)) if "reward_mean" in r]
    assert [r["step"] for r in rows] == [1, 2]
    for key in ("reward_std", "kl", "clip_fraction", "generation_share", "generation_tokens_per_s"):
        assert key in rows[-1]
    assert (run.path / "artifacts" / "reward.png").stat().st_size > 0
    if variant == "async":
        assert all(0.0 <= r["waiting_share"] <= 1.0 for r in rows)


def _sai(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scalable_ai.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
    )


def test_sai_grpo_runs_end_to_end_and_saves_a_servable_model(tiny_checkpoint, tmp_path):
    done = _sai(
        "grpo",
        "--variant",
        "async",
        "--model",
        str(tiny_checkpoint),
        "--steps",
        "2",
        "--prompts_per_step",
        "2",
        "--group_size",
        "3",
        "--max_tokens",
        "4",
        "--kv_cache_megabytes",
        "8",
        "--progress",
        "false",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    checkpoint = Path(done.stdout.strip().splitlines()[-1])
    from scalable_ai.model.registry import load_pretrained

    model, _ = load_pretrained(checkpoint)
    assert model.config.vocab_size > 0
    run = load_run(checkpoint.parent)
    assert run.config["asynchronous"] is True and run.config["variant"] == "async"


def test_sai_grpo_refuses_an_unknown_environment_in_one_line(tiny_checkpoint, tmp_path):
    done = _sai("grpo", "--model", str(tiny_checkpoint), "--env", "chess", cwd=tmp_path)
    assert done.returncode == 2
    assert "unknown environment 'chess'" in done.stderr
    assert "Traceback" not in done.stderr
