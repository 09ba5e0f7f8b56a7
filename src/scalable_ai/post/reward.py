"""A reward model (``sai rm``): our transformer with a scalar head, trained on preference pairs.

The head replaces the LM head: one linear map from the final normed hidden state to a number,
read at the last token of the answer (its end-of-turn token, which has seen the whole prompt
and answer; InstructGPT, Ouyang et al. 2022). Training maximizes the Bradley–Terry likelihood
that the chosen answer beats the rejected one (Bradley & Terry 1952; Christiano et al. 2017)::

    P(chosen ≻ rejected) = σ(r(x, y_c) − r(x, y_r))      loss = −log σ(r_c − r_r)

The run logs the held-out pairwise accuracy (the share of pairs with r_c > r_r; chance is
0.5). The model is saved as ``runs/<id>/reward_model/`` (``config.json``, the tokenizer and
``reward_model.safetensors`` holding the body and the head) and loaded with
:func:`load_reward_model`, e.g. to pick chosen/rejected answers for DPO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from scalable_ai.config import dump_toml
from scalable_ai.errors import UserError
from scalable_ai.model.config import ModelConfig
from scalable_ai.model.load.safetensors import CONFIG_FILE
from scalable_ai.model.tokenizer import Tokenizer
from scalable_ai.model.transformer import Transformer
from scalable_ai.post.base import load_base
from scalable_ai.post.chat import ChatTokenizer, encode_conversation
from scalable_ai.post.loop import LoopSection, PostTrainer, Sampler
from scalable_ai.post.preferences import EncodedPairs, PaddedBatch, PairData, pad_batch, split_pairs
from scalable_ai.runs import Run
from scalable_ai.train.optim import OptimizerConfig

REWARD_FOLDER = "reward_model"
REWARD_WEIGHTS = "reward_model.safetensors"
CONFIG_NAME = "rm.toml"


class RewardModel(nn.Module):
    """A ``Transformer`` whose LM head is a (1 × dim) scalar head."""

    def __init__(self, body: Transformer) -> None:
        super().__init__()
        head = nn.Linear(body.config.dim, 1, bias=False)
        nn.init.normal_(head.weight, std=body.config.dim**-0.5)
        body.lm_head = head.to(body.embed.weight.device)  # the embedding stays as it was
        self.body = body

    @property
    def config(self) -> ModelConfig:
        return self.body.config

    def forward(self, ids: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
        """Rewards (B,) read at token ``last[b]`` of each right-padded row."""
        flat = torch.arange(ids.shape[0], device=ids.device) * ids.shape[1] + last
        return self.body(ids, logits_indices=flat).squeeze(-1).float()

    def score(self, batch: PaddedBatch) -> torch.Tensor:
        return self(batch.ids, batch.last)


def bradley_terry_loss(chosen: torch.Tensor, rejected: torch.Tensor) -> torch.Tensor:
    """Mean of −log σ(r_c − r_r) over pairs."""
    return -F.logsigmoid(chosen - rejected).mean()


@dataclass
class RMConfig:
    model: str = "smollm2-135m"  # the body: registered name, checkpoint folder, or a run
    data: PairData = field(default_factory=PairData)
    optim: OptimizerConfig = field(
        default_factory=lambda: OptimizerConfig(lr=5e-5, weight_decay=0.0)
    )
    train: LoopSection = field(default_factory=LoopSection)


def _pair_scalars(chosen: torch.Tensor, rejected: torch.Tensor) -> dict[str, float]:
    return {
        "accuracy": float((chosen > rejected).float().mean()),
        "margin": float((chosen - rejected).mean()),
    }


def run_rm(config: RMConfig, run: Run) -> dict[str, Any]:
    """Train a reward model; returns the run's summary (with ``val_accuracy``)."""
    loop = config.train
    loop.validate()
    if loop.threads:
        torch.set_num_threads(loop.threads)
    torch.manual_seed(loop.seed)
    device = loop.device_of()
    train_pairs, val_pairs, report = split_pairs(config.data)
    body, tokenizer, base_path = load_base(config.model, device)
    max_tokens = min(config.data.max_tokens, body.config.max_seq_len)
    train_set = EncodedPairs(train_pairs, tokenizer, max_tokens)
    val_set = EncodedPairs(val_pairs, tokenizer, max_tokens) if val_pairs else None
    model = RewardModel(body).train()
    run.summary(base=base_path, train_pairs=len(train_set), val_pairs=len(val_pairs), **report)
    trainer = PostTrainer("rm", model, config.optim, loop, run)

    def loss_fn(indices: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        rewards = model.score(train_set.batch(indices).to(device))
        chosen, rejected = rewards.chunk(2)
        return bradley_terry_loss(chosen, rejected), _pair_scalars(
            chosen.detach(), rejected.detach()
        )

    def evaluate() -> dict[str, float]:
        assert val_set is not None
        chosen, rejected = [], []
        for start in range(0, len(val_set), loop.batch_size):
            indices = list(range(start, min(start + loop.batch_size, len(val_set))))
            c, r = model.score(val_set.batch(indices).to(device)).chunk(2)
            chosen.append(c)
            rejected.append(r)
        c, r = torch.cat(chosen), torch.cat(rejected)
        scalars = _pair_scalars(c, r)
        return {
            "val_loss": float(bradley_terry_loss(c, r)),
            "val_accuracy": scalars["accuracy"],
            "val_margin": scalars["margin"],
        }

    last = trainer.fit(Sampler(len(train_set), loop.seed), loss_fn, evaluate if val_set else None)
    folder = save_reward_model(model.to("cpu").eval(), tokenizer, run.path / REWARD_FOLDER, config)
    plots = trainer.plot(["loss", "accuracy", "val_accuracy"])
    run.summary(**last, reward_model=str(folder), plots=[str(p) for p in plots], steps=trainer.step)
    return dict(run.record["summary"])


def save_reward_model(
    model: RewardModel, tokenizer: Tokenizer, folder: Path, config: Any | None = None
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous() for k, v in model.body.state_dict().items()}
    save_file(
        state, str(folder / REWARD_WEIGHTS), metadata={"format": "pt", "kind": "reward_model"}
    )
    model.config.save(folder / CONFIG_FILE)
    tokenizer.save(folder)
    if config is not None:
        (folder / CONFIG_NAME).write_text(dump_toml(config))
    return folder


def load_reward_model(folder: str | Path, device: str = "cpu") -> tuple[RewardModel, Tokenizer]:
    """A reward model written by ``sai rm`` (a run folder or its ``reward_model/``)."""
    folder = Path(folder)
    if (folder / REWARD_FOLDER / REWARD_WEIGHTS).is_file():
        folder = folder / REWARD_FOLDER
    if not (folder / REWARD_WEIGHTS).is_file():
        raise UserError(f"{folder}: no {REWARD_WEIGHTS} (not a `sai rm` output)", field="model")
    config = ModelConfig.load(folder / CONFIG_FILE)
    with torch.device("meta"):
        model = RewardModel(Transformer(config))
    state = load_file(str(folder / REWARD_WEIGHTS), device=device)
    model.body.load_state_dict(state, strict=True, assign=True)
    model.body.rotary.inv_freq = type(model.body.rotary)(config).inv_freq.to(device)
    return model.eval(), Tokenizer.load(folder)


@torch.no_grad()
def score_answers(
    model: RewardModel,
    tokenizer: ChatTokenizer,
    prompt: list[dict[str, str]],
    answers: list[str],
    max_tokens: int = 512,
) -> list[float]:
    """The reward of each answer to ``prompt`` (to rank answers into DPO pairs)."""
    encoded = [
        encode_conversation(
            [*prompt, {"role": "assistant", "content": a}], tokenizer, max_tokens, train_on="last"
        )
        for a in answers
    ]
    pad = int(tokenizer.settings.get("pad_token_id") or tokenizer.settings.get("eos_token_id") or 0)
    device = next(model.parameters()).device
    return model.score(pad_batch(encoded, pad).to(device)).tolist()
