"""Direct preference optimization (``sai dpo``), with IPO and SimPO as loss options.

With ``π`` the policy being trained and ``π_ref`` the frozen reference (the starting model),
``log π(y|x)`` summed over the answer's tokens, and per pair the implicit rewards
``r_c = β (log π(y_c|x) − log π_ref(y_c|x))`` and ``r_r`` likewise:

- ``dpo`` (Rafailov et al. 2023): ``−log σ(r_c − r_r)``, the Bradley–Terry likelihood of the
  implicit reward; β (default 0.1) sets how far the policy may move from the reference.
- ``ipo`` (Azar et al. 2023, "A General Theoretical Paradigm..."): ``(h − 1/(2β))²`` with
  ``h`` the same log-ratio difference computed on log-probabilities *averaged* over each
  answer's tokens (as TRL does): it regresses the margin to a target instead of pushing it
  to infinity, so it does not overfit deterministic preferences.
- ``simpo`` (Meng et al. 2024): reference-free, ``−log σ(β (ā_c − ā_r) − γ)`` with ``ā`` the
  average log-probability per answer token and γ (``simpo_gamma``) a target margin; the
  paper's β is larger (2.0 here when ``loss = "simpo"`` and β is left at its default).

The reference is fixed, so its log-probabilities are computed once, before the first step,
for every training and held-out pair: no second model sits in memory while training. Logged
per step (TRL's names): ``chosen_reward``, ``rejected_reward``, ``margin`` (their mean
difference) and ``accuracy`` (share of pairs with r_c > r_r), and on held-out pairs the same
plus ``val_policy_accuracy``, the share where the policy itself gives the chosen answer the
higher average log-probability.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from scalable_ai.errors import UserError
from scalable_ai.post.base import MODEL_FOLDER, load_base, save_model
from scalable_ai.post.loop import LoopSection, PostTrainer, Sampler, autocast_context
from scalable_ai.post.lora import ADAPTER_FOLDER, LoraSection, add_lora, merge, save_adapter
from scalable_ai.post.preferences import EncodedPairs, PairData, sequence_logprobs, split_pairs
from scalable_ai.runs import Run
from scalable_ai.train.optim import OptimizerConfig
from scalable_ai.train.trainer import autocast_dtype

CONFIG_FILE = "dpo.toml"
DEFAULT_BETA = 0.1
SIMPO_DEFAULT_BETA = 2.0


@dataclass
class PreferenceLogprobs:
    """Summed answer log-probabilities and answer lengths of a batch of pairs."""

    chosen: torch.Tensor
    rejected: torch.Tensor
    chosen_tokens: torch.Tensor
    rejected_tokens: torch.Tensor


def preference_loss(
    policy: PreferenceLogprobs,
    reference: PreferenceLogprobs | None,
    loss: str = "dpo",
    beta: float = DEFAULT_BETA,
    simpo_gamma: float = 0.5,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(mean loss, chosen rewards, rejected rewards) for the chosen loss (module docstring)."""
    if loss == "simpo":
        chosen = beta * policy.chosen / policy.chosen_tokens
        rejected = beta * policy.rejected / policy.rejected_tokens
        return -F.logsigmoid(chosen - rejected - simpo_gamma).mean(), chosen, rejected
    if reference is None:
        raise UserError(f"the {loss} loss needs reference log-probabilities", field="dpo.loss")
    if loss == "dpo":
        chosen = beta * (policy.chosen - reference.chosen)
        rejected = beta * (policy.rejected - reference.rejected)
        return -F.logsigmoid(chosen - rejected).mean(), chosen, rejected
    if loss == "ipo":
        chosen_ratio = (policy.chosen - reference.chosen) / policy.chosen_tokens
        rejected_ratio = (policy.rejected - reference.rejected) / policy.rejected_tokens
        losses = (chosen_ratio - rejected_ratio - 1 / (2 * beta)) ** 2
        return losses.mean(), beta * chosen_ratio, beta * rejected_ratio
    raise UserError(f"unknown loss {loss!r}; use dpo, ipo or simpo", field="dpo.loss")


@dataclass
class DPOSection:
    loss: Literal["dpo", "ipo", "simpo"] = "dpo"
    beta: float = 0.0  # 0: 0.1 for dpo/ipo, 2.0 for simpo
    simpo_gamma: float = 0.5

    @property
    def effective_beta(self) -> float:
        if self.beta > 0:
            return self.beta
        return SIMPO_DEFAULT_BETA if self.loss == "simpo" else DEFAULT_BETA


@dataclass
class DPOConfig:
    model: str = "smollm2-135m"  # the policy's start and the reference
    data: PairData = field(default_factory=PairData)
    dpo: DPOSection = field(default_factory=DPOSection)
    lora: LoraSection = field(default_factory=LoraSection)
    optim: OptimizerConfig = field(
        default_factory=lambda: OptimizerConfig(lr=5e-6, weight_decay=0.0)
    )
    train: LoopSection = field(default_factory=LoopSection)


def pair_logprobs(
    model: nn.Module, pairs: EncodedPairs, indices: list[int], device: torch.device
) -> PreferenceLogprobs:
    logprobs, tokens = sequence_logprobs(model, pairs.batch(indices).to(device))
    chosen, rejected = logprobs.chunk(2)
    chosen_tokens, rejected_tokens = tokens.chunk(2)
    return PreferenceLogprobs(chosen, rejected, chosen_tokens, rejected_tokens)


@torch.no_grad()
def reference_logprobs(
    model: nn.Module, pairs: EncodedPairs, batch_size: int, device: torch.device
) -> PreferenceLogprobs:
    """The frozen reference's log-probabilities of every pair, computed once."""
    parts = [
        pair_logprobs(model, pairs, list(range(s, min(s + batch_size, len(pairs)))), device)
        for s in range(0, len(pairs), batch_size)
    ]
    return PreferenceLogprobs(
        *(
            torch.cat([getattr(p, name) for p in parts])
            for name in ("chosen", "rejected", "chosen_tokens", "rejected_tokens")
        )
    )


def _select(reference: PreferenceLogprobs, indices: list[int]) -> PreferenceLogprobs:
    at = torch.tensor(indices, device=reference.chosen.device)
    return PreferenceLogprobs(
        reference.chosen[at],
        reference.rejected[at],
        reference.chosen_tokens[at],
        reference.rejected_tokens[at],
    )


def _scalars(chosen: torch.Tensor, rejected: torch.Tensor) -> dict[str, float]:
    return {
        "chosen_reward": float(chosen.mean()),
        "rejected_reward": float(rejected.mean()),
        "margin": float((chosen - rejected).mean()),
        "accuracy": float((chosen > rejected).float().mean()),
    }


def run_dpo(config: DPOConfig, run: Run) -> dict[str, Any]:
    """Train the policy on preference pairs; write the model (and adapter) into the run."""
    loop, settings = config.train, config.dpo
    loop.validate()
    config.lora.validate()
    if loop.threads:
        torch.set_num_threads(loop.threads)
    torch.manual_seed(loop.seed)
    device = loop.device_of()
    beta = settings.effective_beta
    train_pairs, val_pairs, report = split_pairs(config.data)
    model, tokenizer, base_path = load_base(config.model, device)
    max_tokens = min(config.data.max_tokens, model.config.max_seq_len)
    train_set = EncodedPairs(train_pairs, tokenizer, max_tokens)
    val_set = EncodedPairs(val_pairs, tokenizer, max_tokens) if val_pairs else None
    needs_reference = settings.loss != "simpo"
    model.eval()
    # The reference computes in the precision the policy trains in, so step 0's rewards are 0.
    with autocast_context(device, autocast_dtype(device, loop.precision)):
        train_ref = (
            reference_logprobs(model, train_set, loop.batch_size, device)
            if needs_reference
            else None
        )
        val_ref = (
            reference_logprobs(model, val_set, loop.batch_size, device)
            if needs_reference and val_set
            else None
        )
    policy: nn.Module = add_lora(model, config.lora, base_path) if config.lora.enabled else model
    policy.train()
    run.summary(
        base=base_path,
        loss_type=settings.loss,
        beta=beta,
        train_pairs=len(train_set),
        val_pairs=len(val_pairs),
        **report,
    )
    trainer = PostTrainer(settings.loss, policy, config.optim, loop, run)

    def loss_fn(indices: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        logprobs = pair_logprobs(policy, train_set, indices, device)
        reference = _select(train_ref, indices) if train_ref is not None else None
        loss, chosen, rejected = preference_loss(
            logprobs, reference, settings.loss, beta, settings.simpo_gamma
        )
        return loss, _scalars(chosen.detach(), rejected.detach())

    def evaluate() -> dict[str, float]:
        assert val_set is not None
        logprobs = reference_logprobs(policy, val_set, loop.batch_size, device)
        loss, chosen, rejected = preference_loss(
            logprobs, val_ref, settings.loss, beta, settings.simpo_gamma
        )
        average_chosen = logprobs.chosen / logprobs.chosen_tokens
        average_rejected = logprobs.rejected / logprobs.rejected_tokens
        scalars = {f"val_{k}": v for k, v in _scalars(chosen, rejected).items()}
        scalars["val_policy_accuracy"] = float((average_chosen > average_rejected).float().mean())
        return {"val_loss": float(loss), **scalars}

    last = trainer.fit(Sampler(len(train_set), loop.seed), loss_fn, evaluate if val_set else None)
    policy.eval()
    adapter = None
    if config.lora.enabled:
        adapter = save_adapter(policy.to("cpu"), run.path / ADAPTER_FOLDER)
        policy = merge(policy)
    folder = save_model(policy.to("cpu"), tokenizer, run.path / MODEL_FOLDER, config, CONFIG_FILE)  # type: ignore[arg-type]
    plots = trainer.plot(["loss", "margin", "accuracy", "val_accuracy", "val_policy_accuracy"])
    run.summary(
        **last,
        model=str(folder),
        adapter=str(adapter) if adapter else None,
        plots=[str(p) for p in plots],
        steps=trainer.step,
    )
    return dict(run.record["summary"])
