"""The pre-training loop: one readable loop, every knob a config field.

Per optimizer step: set the learning rate from the schedule, run ``grad_accum`` micro-batches
(forward under bf16 autocast where the device has it, mean cross-entropy, backward of
``loss / grad_accum``), clip the global gradient norm, step, zero the gradients. Every
``log_every`` steps the loss, learning rate, gradient norm, tokens/s and MFU go to the run;
every ``eval_every`` the validation loss on fixed batches; every ``checkpoint_every`` a
checkpoint (``checkpoint.py``) that resumes bit for bit: the weights, the optimizer state,
the loader position and the RNG states are saved, and the schedule is a function of the
step. Parallelism enters only through a :class:`~scalable_ai.train.context.DistributedContext`.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from scalable_ai.data.loader import SequenceLoader, ShardSet
from scalable_ai.data.tokenize import load_tokenizer
from scalable_ai.errors import UserError
from scalable_ai.model.flops import count_parameters, training_flops_per_token
from scalable_ai.model.transformer import Transformer
from scalable_ai.runs import Run
from scalable_ai.train import checkpoint
from scalable_ai.train.config import TrainConfig
from scalable_ai.train.context import DistributedContext
from scalable_ai.train.metrics import peak_flops, unigram_loss
from scalable_ai.train.schedule import lr_factor


@dataclass
class TrainResult:
    """What a finished run produced."""

    checkpoint: Path
    steps: int
    tokens: int
    train_loss: float
    val_loss: float
    unigram_val_loss: float | None
    sample: str = ""
    summary: dict[str, Any] = field(default_factory=dict)


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """bf16 autocast where the device computes bf16 natively ("auto"), else f32."""
    if precision == "float32":
        return None
    if precision == "bfloat16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else None
    if device.type == "cpu":
        supported = (
            torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()
        )
        return torch.bfloat16 if supported else None
    return None


class Trainer:
    """Build everything a run needs from a config, then :meth:`fit`."""

    def __init__(
        self,
        config: TrainConfig,
        run: Run | None = None,
        context: DistributedContext | None = None,
        resume: str | Path | None = None,
    ) -> None:
        config.validate()
        self.config, self.run = config, run
        self.context = context or DistributedContext()
        loop = config.train
        if loop.threads:
            torch.set_num_threads(loop.threads)
        self.device = self.context.device(loop.device)
        self.dtype = autocast_dtype(self.device, loop.precision)
        verify = None if config.data.verify == "auto" else config.data.verify == "true"
        self.shards = ShardSet(config.data.shards, verify=verify)
        self.tokenizer = self._tokenizer()
        if self.shards.vocab_size > config.model.vocab_size:
            raise UserError(
                f"{config.model.vocab_size} is smaller than the shards' vocabulary "
                f"({self.shards.vocab_size})",
                field="model.vocab_size",
            )
        if loop.objective == "diffusion":
            from scalable_ai.diffusion.objective import diffusion_model_config

            config.model = diffusion_model_config(config.model, self.shards.vocab_size)
            if run is not None and isinstance(run.record.get("config"), dict):
                run.record["config"]["model"] = config.model.to_dict()  # the mask token's row
        torch.manual_seed(loop.seed)
        self.model = Transformer(config.model).to(self.device)
        self.step, self.tokens_seen = 0, 0
        resume_state = self._load_checkpoint(Path(resume)) if resume else None
        self.wrapped = self.context.wrap_model(self.model)
        self.forward: nn.Module = torch.compile(self.wrapped) if loop.compile else self.wrapped
        self.optimizer = config.optim.build(self.model)  # train/optim's factory
        base_lrs = [group["lr"] for group in self.optimizer.param_groups]
        rank, world = self.context.rank, self.context.world_size
        self.loader = SequenceLoader(
            self.shards,
            "train",
            config.data.seq_len,
            loop.batch_size,
            rank,
            world,
            seed=loop.seed,
            device=self.device,
        )
        validation = SequenceLoader(
            self.shards,
            "val",
            config.data.seq_len,
            loop.batch_size,
            rank,
            world,
            shuffle=False,
            device=self.device,
        )
        self.val_batches = validation.batches(loop.eval_batches)
        if resume_state is not None:
            optimizer_state, state = resume_state
            self.context.load_optimizer_state_dict(self.wrapped, self.optimizer, optimizer_state)
            self.loader.load_state_dict(state["loader"])
            self.step, self.tokens_seen = int(state["step"]), int(state["tokens_seen"])
            checkpoint.set_rng_state(state["rng"])
        for group, base in zip(self.optimizer.param_groups, base_lrs, strict=True):
            group["base_lr"] = base  # the config's rate, even when resuming with a new one
        self.checkpoint_dir = (run.path / "checkpoints") if run is not None else None

    def _tokenizer(self) -> Any:
        path = self.config.data.tokenizer or self.shards.tokenizer.get("path", "")
        if not path or not (Path(path).expanduser() / "tokenizer.json").is_file():
            raise UserError(
                f"no tokenizer.json at {path!r}: the checkpoint needs the shards' "
                "tokenizer (--data.tokenizer DIR)",
                field="data.tokenizer",
            )
        self.shards.check_tokenizer(path)
        return load_tokenizer(path)

    def _load_checkpoint(self, resume: Path) -> tuple[dict[str, Any], dict[str, Any]]:
        found = checkpoint.find(resume)
        checkpoint.check_same_model(found, self.config.model)
        weights, optimizer_state, state = checkpoint.load(found)
        self.model.load_state_dict(weights)
        self.resumed_from = found
        if self.run is not None:
            self.run.summary(resumed_from=str(found), resumed_at_step=int(state["step"]))
        return optimizer_state, state

    # ---- one step ----------------------------------------------------------------------

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def _loss(
        self,
        inputs: torch.Tensor,
        targets: torch.Tensor,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        if self.config.train.objective == "diffusion":
            from scalable_ai.diffusion.objective import diffusion_loss

            # The clean sequence is the input window; the denoiser predicts its masked tokens.
            with self._autocast():
                loss = diffusion_loss(
                    self.forward, inputs, self.config.model.mask_token_id, generator
                )
            return loss + self.model.aux_loss()
        with self._autocast():
            logits = self.forward(inputs)
        loss = F.cross_entropy(logits.float().flatten(0, 1), targets.flatten())
        return loss + self.model.aux_loss()

    def train_step(self) -> tuple[torch.Tensor, torch.Tensor, float]:
        """One optimizer step; returns (mean loss, gradient norm, learning-rate factor)."""
        loop = self.config.train
        factor = lr_factor(
            self.step,
            loop.steps,
            loop.warmup_steps,
            loop.schedule,
            loop.min_lr_ratio,
            loop.decay_fraction,
        )
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor
        total = torch.zeros((), device=self.device)
        for micro in range(loop.grad_accum):
            inputs, targets = self.loader.next_batch()
            with self.context.accumulating(self.wrapped, micro == loop.grad_accum - 1):
                loss = self._loss(inputs, targets)
                (loss / loop.grad_accum).backward()
            total += loss.detach()
        limit = loop.grad_clip if loop.grad_clip > 0 else float("inf")
        grad_norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), limit)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        self.tokens_seen += self.tokens_per_step
        return self.context.mean(total / loop.grad_accum), grad_norm, factor

    @property
    def tokens_per_step(self) -> int:
        loop = self.config.train
        return (
            self.context.world_size * loop.batch_size * loop.grad_accum * self.config.data.seq_len
        )

    @torch.no_grad()
    def evaluate(self) -> float:
        """Mean loss over the fixed validation batches (every rank its share, averaged)."""
        self.wrapped.eval()
        # A diffusion bound averages over random masks: the same masks at every evaluation.
        generator = torch.Generator(self.device).manual_seed(self.config.train.seed + 1)
        losses = [self._loss(inputs, targets, generator) for inputs, targets in self.val_batches]
        self.wrapped.train()
        return float(self.context.mean(torch.stack(losses).mean()))

    def save(self) -> Path | None:
        """A checkpoint of this step (rank 0 writes; every rank helps gather state)."""
        model_state = self.context.model_state_dict(self.model, self.wrapped)
        optimizer_state = self.context.optimizer_state_dict(self.wrapped, self.optimizer)
        path = None
        if self.context.is_main and self.checkpoint_dir is not None:
            state = {"loader": self.loader.state_dict(), "tokens_seen": self.tokens_seen}
            path = checkpoint.save(
                self.checkpoint_dir,
                self.step,
                self.model,
                model_state,
                optimizer_state,
                state,
                self.config,
                self.tokenizer,
            )
            checkpoint.prune(self.checkpoint_dir, self.config.train.keep_checkpoints)
        self.context.barrier()
        return path

    # ---- the loop ----------------------------------------------------------------------

    def fit(self) -> TrainResult:
        loop = self.config.train
        flops_per_token = training_flops_per_token(self.config.model, self.config.data.seq_len)
        peak, peak_source = peak_flops(self.device, self.dtype is not None, loop.peak_tflops)
        self._summary(
            parameters=count_parameters(self.config.model).total,
            tokens_per_step=self.tokens_per_step,
            peak_flops=peak,
            peak_source=peak_source,
            precision=str(self.dtype or torch.float32),
            device=str(self.device),
        )
        self.wrapped.train()
        train_loss, val_loss, last = float("nan"), float("nan"), None
        window_start, window_tokens = time.perf_counter(), 0
        with _Bar(loop.progress and self.context.is_main, loop.steps, self.step) as bar:
            while self.step < loop.steps:
                loss, grad_norm, factor = self.train_step()
                window_tokens += self.tokens_per_step
                done = self.step
                if done % loop.log_every == 0 or done == loop.steps:
                    train_loss = float(loss)  # syncs the device: time is measured after it
                    seconds = time.perf_counter() - window_start
                    tokens_per_s = window_tokens / seconds
                    mfu = tokens_per_s * flops_per_token / peak if peak else 0.0
                    self._log(
                        done,
                        loss=train_loss,
                        lr=factor * self.config.optim.lr,
                        grad_norm=float(grad_norm),
                        tokens_per_s=tokens_per_s,
                        mfu=mfu,
                        tokens=self.tokens_seen,
                    )
                    bar.update(
                        done, f"loss {train_loss:.3f}  {tokens_per_s:,.0f} tok/s  mfu {mfu:.1%}"
                    )
                    window_start, window_tokens = time.perf_counter(), 0
                pause = time.perf_counter()
                if done % loop.eval_every == 0 or done == loop.steps:
                    val_loss = self.evaluate()
                    self._log(done, val_loss=val_loss)
                if done % loop.checkpoint_every == 0 or done == loop.steps:
                    last = self.save() or last
                window_start += time.perf_counter() - pause  # evals and saves are not training
        return self._finish(last, train_loss, val_loss)

    def _finish(self, last: Path | None, train_loss: float, val_loss: float) -> TrainResult:
        if val_loss != val_loss:  # resumed at the last step: nothing ran, still report
            val_loss = self.evaluate()
        baseline = unigram_loss(self.shards, [t for _, t in self.val_batches])
        sample = self.sample() if self.config.train.sample_tokens and self.context.is_main else ""
        summary = {
            "steps": self.step,
            "tokens": self.tokens_seen,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "unigram_val_loss": baseline,
            "sample": sample,
            "checkpoint": str(last) if last else None,
        }
        self._summary(**summary)
        return TrainResult(
            checkpoint=last or Path(),
            steps=self.step,
            tokens=self.tokens_seen,
            train_loss=train_loss,
            val_loss=val_loss,
            unigram_val_loss=baseline,
            sample=sample,
            summary=dict(self.run.record["summary"]) if self.run else summary,
        )

    def sample(self, prompt: str = "The") -> str:
        """A short greedy continuation from the trained model (a smoke test you can read)."""
        if not self.config.model.causal:
            from scalable_ai.diffusion.generate import sample_text

            self.model.eval()
            text = sample_text(self.model, self.tokenizer, prompt, self.config.train.sample_tokens)
            self.model.train()
            return text
        from scalable_ai.infer.engine import EngineConfig, LLMEngine
        from scalable_ai.infer.sampling import SamplingParams

        # The inference engine on the live weights, through the model's own forward (no
        # packed copies to make for one sample; every recipe switch is covered).
        self.model.eval()
        config = EngineConfig(
            kv_cache_megabytes=16,
            forward_path="model",
            enable_prefix_caching=False,
            use_cuda_graphs=False,
        )
        engine = LLMEngine(
            self.model, self.tokenizer, config, eos_token_ids=sorted(self.tokenizer.stop_ids())
        )
        params = SamplingParams(max_tokens=self.config.train.sample_tokens, temperature=0)
        text = prompt + "".join(delta.text for delta in engine.stream(prompt, params))
        self.model.train()
        return text

    def _log(self, step: int, **scalars: float) -> None:
        if self.run is not None and self.context.is_main:
            self.run.log(step, **scalars)

    def _summary(self, **values: Any) -> None:
        if self.run is not None and self.context.is_main:
            self.run.summary(**values)


class _Bar:
    """A rich progress bar over steps (or nothing, off the main rank or when disabled)."""

    def __init__(self, enabled: bool, total: int, start: int) -> None:
        self.enabled, self.total, self.start = enabled, total, start

    def __enter__(self) -> _Bar:
        if self.enabled:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self.progress = Progress(
                TextColumn("train"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.description}"),
            )
            self.progress.start()
            self.task = self.progress.add_task("", total=self.total, completed=self.start)
        return self

    def update(self, step: int, description: str) -> None:
        if self.enabled:
            self.progress.update(self.task, completed=step, description=description)

    def __exit__(self, *exc: object) -> None:
        if self.enabled:
            self.progress.stop()
