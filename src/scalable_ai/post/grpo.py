"""GRPO on our own inference engine, in one process: sample groups, score, update, swap.

One step (Shao et al. 2024, DeepSeekMath; the loop of TRL's ``GRPOTrainer`` with vLLM
colocated, and of NeMo RL):

1. draw ``prompts_per_step`` tasks from the environment and sample ``group_size`` completions
   of each through the :class:`~scalable_ai.infer.engine.LLMEngine` (continuous batching over
   every sample at once), keeping the engine's log-probability of each sampled token;
2. score them with the environment's verifiable reward and turn rewards into group-relative
   advantages (``rl_loss.group_advantages``);
3. recompute the tokens' log-probabilities with the trainer's model (and the frozen
   reference's, for the KL term), take ``updates_per_batch`` optimizer steps on the clipped,
   engine-corrected objective (``rl_loss.policy_loss``);
4. copy the new weights into the engine in place (``LLMEngine.swap_weights``).

``asynchronous = true`` overlaps 1 and 3: while the trainer trains on batch k, a thread has the
engine generate batch k+1 with the weights from before that update, so each batch is one step
off-policy; the loss's importance weight against the engine's log-probabilities corrects for
it (as in NeMo RL's async GRPO and PipelineRL). The variants of ``VARIANTS`` (DAPO, Dr. GRPO,
RLOO) are settings of this one loop, applied before the config file and overrides.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from scalable_ai.errors import UserError
from scalable_ai.infer.engine import EngineConfig, LLMEngine, resolve_device
from scalable_ai.post.base import MODEL_FOLDER, load_base, save_model
from scalable_ai.post.envs import Task, make_environment
from scalable_ai.post.rl_batch import ScoredBatch, train_on_batch
from scalable_ai.post.rl_loss import Aggregation, Baseline, LossSettings
from scalable_ai.post.rollout import Rollout, RolloutWorker
from scalable_ai.runs import Run
from scalable_ai.train.optim import OptimizerConfig


def _rl_optimizer() -> OptimizerConfig:
    # RL fine-tuning moves a trained model a little: a small rate and no weight decay (TRL's
    # GRPO defaults are 1e-6 for billion-parameter models; small models take more).
    return OptimizerConfig(lr=1e-5, weight_decay=0.0, beta2=0.99)


@dataclass
class GRPOConfig:
    """``sai grpo``'s settings (every field ``--name value`` on the command line)."""

    model: str = "smollm2-135m"  # a registered name, checkpoint, .gguf, or a run (sft, dpo)
    variant: str = "grpo"  # recorded; the settings a variant implies are applied by name
    env: str = "arithmetic"
    env_options: dict[str, Any] = field(default_factory=dict)  # the environment's constructor's
    steps: int = 20
    prompts_per_step: int = 8
    group_size: int = 8
    max_tokens: int = 32  # per model turn
    # -- the loss (rl_loss.py) --
    baseline: Baseline = "group"
    scale_by_std: bool = True
    aggregation: Aggregation = "sequence"
    eps_low: float = 0.2
    eps_high: float = 0.2
    kl_coef: float = 0.04
    importance_cap: float = 2.0
    # -- sampling and scheduling --
    dynamic_sampling: bool = False  # DAPO: drop all-equal groups and sample more prompts
    max_sampling_rounds: int = 4
    asynchronous: bool = False
    updates_per_batch: int = 1
    micro_batch_size: int = 16
    grad_clip: float = 1.0
    optim: OptimizerConfig = field(default_factory=_rl_optimizer)
    on_reward_error: Literal["skip", "fail"] = "skip"
    eval_every: int = 0  # >0: greedy reward on eval_tasks fixed tasks every so many steps
    eval_tasks: int = 64
    # -- where it runs --
    device: str = "auto"
    engine_dtype: Literal["float32", "bfloat16"] = "float32"
    forward_path: str = "auto"
    kv_cache_megabytes: int = 256
    threads: int = 0
    seed: int = 0
    progress: bool = True
    save: bool = True  # the final weights as a servable checkpoint in the run (model/)

    def loss_settings(self, max_turns: int) -> LossSettings:
        return LossSettings(
            eps_low=self.eps_low,
            eps_high=self.eps_high,
            kl_coef=self.kl_coef,
            aggregation=self.aggregation,
            constant_length=self.max_tokens * max_turns,
            importance_cap=self.importance_cap,
        )

    def validate(self) -> None:
        """Rules no single field's type can say; a :class:`UserError` names the field."""
        positive = ("steps", "prompts_per_step", "max_tokens", "updates_per_batch")
        for name in (*positive, "micro_batch_size", "max_sampling_rounds", "eval_tasks"):
            if getattr(self, name) < 1:
                raise UserError(f"must be at least 1, got {getattr(self, name)}", field=name)
        if self.group_size < 2:
            raise UserError(
                "must be at least 2: advantages compare samples within a group", field="group_size"
            )
        if not 0 <= self.eps_low < 1:
            raise UserError("must be in [0, 1)", field="eps_low")
        for name in ("eps_high", "kl_coef", "importance_cap", "grad_clip", "eval_every"):
            if getattr(self, name) < 0:
                raise UserError("must be 0 or more", field=name)
        if self.variant not in VARIANTS:
            raise UserError(f"unknown variant; known: {', '.join(VARIANTS)}", field="variant")


#: Each variant is a set of settings of the one implementation (applied before the user's).
VARIANTS: dict[str, dict[str, Any]] = {
    "grpo": {},
    # Yu et al. 2025: clip-higher, dynamic sampling, token-level loss, no KL term.
    "dapo": {
        "eps_high": 0.28,
        "dynamic_sampling": True,
        "aggregation": "token",
        "kl_coef": 0.0,
    },
    # Liu et al. 2025: no std scaling of advantages, no per-length normalization.
    "dr_grpo": {"scale_by_std": False, "aggregation": "constant"},
    # Ahmadian et al. 2024: the leave-one-out baseline, no std scaling.
    "rloo": {"baseline": "leave_one_out", "scale_by_std": False},
    # One step off-policy: generation of batch k+1 overlaps training on batch k.
    "async": {"asynchronous": True},
}


def variant_config(name: str) -> GRPOConfig:
    """The defaults with variant ``name``'s settings applied (the base a config file edits)."""
    if name not in VARIANTS:
        raise UserError(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}", field="variant")
    return GRPOConfig(variant=name, **VARIANTS[name])


@dataclass
class GRPOResult:
    steps: int
    first_reward: float
    last_reward: float
    checkpoint: Path | None
    summary: dict[str, Any]


@dataclass
class SampledBatch:
    """A step's rollouts: the groups kept for the loss and everything sampled."""

    kept: list[list[Rollout]]
    every: list[Rollout]
    dropped_groups: int
    rounds: int
    seconds: float
    sampled_tokens: int
    reward_errors: int


class GRPOTrainer:
    """The model, its frozen reference, an engine on a copy of it, the environment, the loop."""

    def __init__(
        self,
        config: GRPOConfig,
        run: Run | None = None,
        model: nn.Module | None = None,
        tokenizer: Any = None,
    ) -> None:
        config.validate()
        self.config, self.run = config, run
        if config.threads:
            torch.set_num_threads(config.threads)
        self.device = resolve_device(config.device)
        self.env = make_environment(config.env, **config.env_options)
        if model is None:  # a name, checkpoint, GGUF, or a run (sai train/sft/dpo)
            model, tokenizer, _ = load_base(config.model, self.device)
        torch.manual_seed(config.seed)
        self.model = model.float().to(self.device).train()
        self.tokenizer = tokenizer
        self.reference: nn.Module | None = None
        if config.kl_coef > 0:
            self.reference = copy.deepcopy(self.model).eval().requires_grad_(False)
        dtype = torch.bfloat16 if config.engine_dtype == "bfloat16" else torch.float32
        engine_model = copy.deepcopy(self.model).to(dtype).eval().requires_grad_(False)
        self.engine = LLMEngine(
            engine_model,
            tokenizer,
            EngineConfig(
                kv_cache_megabytes=config.kv_cache_megabytes,
                forward_path=config.forward_path,
                use_cuda_graphs=False,  # weights change every step
            ),
            model_name=config.model,
            eos_token_ids=stop_ids(tokenizer),
        )
        self.worker = RolloutWorker(
            self.engine,
            self.env,
            config.group_size,
            config.max_tokens,
            config.on_reward_error,
            seed=config.seed,
        )
        self.loss_settings = config.loss_settings(self.env.max_turns)
        self.optimizer = config.optim.build(self.model)
        self.task_rng = random.Random(config.seed)
        eval_rng = random.Random(config.seed + 10_007)  # fixed tasks, apart from training's
        self.eval_set = [self.env.sample_task(eval_rng) for _ in range(config.eval_tasks)]
        self.step = 0

    # -- sampling ------------------------------------------------------------------------
    def sample_batch(self) -> SampledBatch:
        """Groups for one step; with dynamic sampling, all-equal groups are dropped and more
        prompts are sampled, up to ``max_sampling_rounds`` rounds (DAPO)."""
        config = self.config
        start = time.perf_counter()
        kept: list[list[Rollout]] = []
        every: list[Rollout] = []
        dropped = tokens = errors = rounds = 0
        while len(kept) < config.prompts_per_step and rounds < config.max_sampling_rounds:
            need = config.prompts_per_step - len(kept)
            tasks: list[Task] = [self.env.sample_task(self.task_rng) for _ in range(need)]
            rollouts, stats = self.worker.rollout(tasks)
            rounds += 1
            every += rollouts
            tokens += stats.sampled_tokens
            errors += stats.reward_errors
            for group in _groups(rollouts, need):
                if config.dynamic_sampling and _all_equal(group):
                    dropped += 1
                else:
                    kept.append(group)
            if not config.dynamic_sampling:
                break
        seconds = time.perf_counter() - start
        return SampledBatch(kept, every, dropped, rounds, seconds, tokens, errors)

    @torch.no_grad()
    def swap_weights(self) -> None:
        """The trainer's new weights into the engine, in place (its K/V cache is dropped)."""
        self.engine.swap_weights(self.model.state_dict())

    def evaluate(self) -> float:
        """Mean greedy reward on the fixed evaluation tasks (the engine must be idle)."""
        rollouts, _ = self.worker.rollout(self.eval_set, temperature=0.0, group_size=1)
        return sum(r.reward for r in rollouts) / len(rollouts)

    # -- the loop ------------------------------------------------------------------------
    def fit(self) -> GRPOResult:
        config = self.config
        torch.set_flush_denormal(
            True
        )  # as sai serve: tiny models' softmax tails are slow otherwise
        start = time.perf_counter()
        rewards: list[float] = []
        executor = ThreadPoolExecutor(1) if config.asynchronous else None
        evaluating = 0.0  # seconds of evaluation, kept out of the wall-clock axis
        try:
            if config.eval_every:
                self._log(0, eval_reward=self.evaluate(), wall_seconds=0.0)
                evaluating = time.perf_counter() - start
            ready: SampledBatch | None = None
            with _progress(config.progress, config.steps) as advance:
                for step in range(1, config.steps + 1):
                    step_start = time.perf_counter()
                    generated = 0.0  # generation seconds that ran within this step
                    if ready is None:  # always when synchronous; the first step when not
                        ready = self.sample_batch()
                        generated += ready.seconds
                    batch, ready = ready, None
                    pending: Future[SampledBatch] | None = None
                    if executor is not None and step < config.steps:
                        pending = executor.submit(self.sample_batch)  # with the old weights
                    train_start = time.perf_counter()
                    outcome = train_on_batch(self, ScoredBatch(batch.kept))
                    train_seconds = time.perf_counter() - train_start
                    waited = 0.0
                    if pending is not None:
                        wait_start = time.perf_counter()
                        ready = pending.result()
                        waited = time.perf_counter() - wait_start
                        generated += ready.seconds
                    self.swap_weights()
                    self.step = step
                    step_seconds = time.perf_counter() - step_start
                    metrics = _step_metrics(batch, outcome, step_seconds, train_seconds)
                    metrics.update(
                        generation_share=min(generated / step_seconds, 1.0),
                        waiting_share=waited / step_seconds,
                        wall_seconds=time.perf_counter() - start - evaluating,
                    )
                    if config.eval_every and (
                        step % config.eval_every == 0 or step == config.steps
                    ):
                        eval_start = time.perf_counter()
                        metrics["eval_reward"] = self.evaluate()
                        evaluating += time.perf_counter() - eval_start
                    rewards.append(metrics["reward_mean"])
                    self._log(step, **metrics)
                    self._record(step, batch.every)
                    advance(f"reward {metrics['reward_mean']:.3f}")
        finally:
            if executor is not None:
                executor.shutdown(wait=True)
            torch.set_flush_denormal(False)
        return self._finish(rewards)

    def _finish(self, rewards: list[float]) -> GRPOResult:
        checkpoint = None
        if self.run is not None and self.config.save:
            checkpoint = self.save(self.run.path / MODEL_FOLDER)
        head = rewards[: max(1, len(rewards) // 5)]
        tail = rewards[-max(1, len(rewards) // 5) :]
        first, last = sum(head) / len(head), sum(tail) / len(tail)
        summary = {
            "steps": self.step,
            "first_reward": first,
            "last_reward": last,
            "checkpoint": str(checkpoint) if checkpoint else None,
        }
        if self.run is not None:
            from scalable_ai.post.rl_report import plot_run_rewards
            from scalable_ai.runs import load_run, read_metrics

            rows = read_metrics(load_run(self.run.path))
            plot_run_rewards(rows, self.run.artifact("reward.png"), title=self.config.variant)
            self.run.summary(**summary)
        return GRPOResult(self.step, first, last, checkpoint, summary)

    def save(self, folder: Path) -> Path:
        """The current weights, tokenizer and this config (``grpo.toml``) as a checkpoint
        ``sai serve`` loads as it is (the same folder ``sai sft`` and ``sai dpo`` write)."""
        model = self.model if self.device.type == "cpu" else copy.deepcopy(self.model).cpu()
        return save_model(model, self.tokenizer, folder, self.config, "grpo.toml")  # type: ignore[arg-type]

    def _log(self, step: int, **scalars: float) -> None:
        if self.run is not None:
            self.run.log(step, **scalars)

    def _record(self, step: int, rollouts: list[Rollout]) -> None:
        if self.run is None:
            return
        path = self.run.artifact("rollouts.jsonl")
        with path.open("a") as out:
            for rollout in rollouts:
                out.write(json.dumps({"step": step, **rollout.record()}) + "\n")


def stop_ids(tokenizer: Any) -> list[int]:
    """Ids that end a turn: the tokenizer's stop set, else its end-of-sequence id."""
    if hasattr(tokenizer, "stop_ids"):
        return sorted(tokenizer.stop_ids())
    eos = getattr(tokenizer, "eos_token_id", None)
    return [] if eos is None else [eos]


def _groups(rollouts: list[Rollout], count: int) -> list[list[Rollout]]:
    groups: list[list[Rollout]] = [[] for _ in range(count)]
    for rollout in rollouts:
        groups[rollout.group].append(rollout)
    return groups


def _all_equal(group: list[Rollout]) -> bool:
    rewards = {r.reward for r in group if r.error is None}
    return len(rewards) <= 1


def _step_metrics(
    batch: SampledBatch, outcome: dict[str, float], step_seconds: float, train_seconds: float
) -> dict[str, float]:
    scored = [r for r in batch.every if r.error is None]
    rewards = [r.reward for r in scored]
    mean = sum(rewards) / len(rewards) if rewards else 0.0
    variance = sum((x - mean) ** 2 for x in rewards) / len(rewards) if rewards else 0.0
    lengths = [r.num_sampled for r in batch.every]
    return {
        "reward_mean": mean,
        "reward_std": variance**0.5,
        **outcome,
        "completion_tokens": sum(lengths) / max(len(lengths), 1),
        "generation_seconds": batch.seconds,
        "generation_tokens_per_s": batch.sampled_tokens / max(batch.seconds, 1e-9),
        "train_seconds": train_seconds,
        "step_seconds": step_seconds,
        "dropped_groups": batch.dropped_groups,
        "sampling_rounds": batch.rounds,
        "reward_errors": batch.reward_errors,
    }


@contextlib.contextmanager
def _progress(enabled: bool, total: int) -> Iterator[Any]:
    """A rich progress bar over steps; yields ``advance(description)``."""
    if not enabled:
        yield lambda description: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("grpo"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}")
    ) as bar:
        task = bar.add_task("", total=total)
        yield lambda description: bar.update(task, advance=1, description=description)
