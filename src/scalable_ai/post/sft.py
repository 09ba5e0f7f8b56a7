"""Supervised fine-tuning on chat data (``sai sft``): full weights or LoRA, assistant-only loss.

The recipe (InstructGPT's SFT stage, Ouyang et al. 2022; Tülu/SmolLM2 chat tuning): render
each conversation with the model's own chat template, train next-token cross-entropy on the
assistant's tokens only (``chat.encode_conversation``'s loss mask), and pack conversations into
rows without attention across them (``chat.pack`` + ``chat.DocumentAttention``). The loss of a
micro-batch is the mean over its trained tokens.

A run writes::

    runs/<id>/model/     the fine-tuned model (LoRA merged into the weights): sai serve PATH
    runs/<id>/adapter/   LoRA only: the adapter alone, in peft's layout (lora.py)
    runs/<id>/artifacts/loss.png, val_loss.png
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from scalable_ai.errors import UserError
from scalable_ai.post.base import MODEL_FOLDER, load_base, save_model
from scalable_ai.post.chat import (
    IGNORE_INDEX,
    Conversation,
    DocumentAttention,
    PackedRows,
    encode_all,
    pack,
    read_conversations,
)
from scalable_ai.post.loop import LoopSection, PostTrainer, Sampler
from scalable_ai.post.lora import (
    ADAPTER_FOLDER,
    LoraSection,
    add_lora,
    merge,
    save_adapter,
    trainable_parameters,
)
from scalable_ai.runs import Run
from scalable_ai.train.optim import OptimizerConfig

CONFIG_FILE = "sft.toml"


@dataclass
class SFTData:
    """Chat data: ``messages`` JSONL (``chat.py``), a held-out file or a hashed share of the
    training file, and how rows are built."""

    train: str = ""
    val: str = ""  # empty: hold out val_fraction of the training conversations
    val_fraction: float = 0.05
    on_error: Literal["fatal", "skip"] = "fatal"
    seq_len: int = 512
    packing: bool = True


def _sft_optimizer() -> OptimizerConfig:
    # Fine-tuning rates: far below pre-training's 3e-3, and no decay pulling weights to zero.
    return OptimizerConfig(lr=2e-4, weight_decay=0.0)


@dataclass
class SFTConfig:
    model: str = "smollm2-135m"  # registered name, checkpoint folder, .gguf, or a run
    data: SFTData = field(default_factory=SFTData)
    lora: LoraSection = field(default_factory=LoraSection)
    optim: OptimizerConfig = field(default_factory=_sft_optimizer)
    train: LoopSection = field(default_factory=LoopSection)

    def validate(self) -> None:
        self.train.validate()
        self.lora.validate()
        if not self.data.train:
            raise UserError("give a messages JSONL file (--data.train FILE)", field="data.train")
        if not 0 <= self.data.val_fraction < 1:
            raise UserError("must be in [0, 1)", field="data.val_fraction")


@dataclass
class SFTResult:
    model_dir: Path
    adapter_dir: Path | None
    summary: dict[str, Any]


def is_held_out(conversation: Conversation, fraction: float) -> bool:
    """A stable split by the conversation's text (the same line lands on the same side in
    every run, whatever the file's order)."""
    key = "\x1e".join(m["content"] for m in conversation.messages).encode()
    return fraction > 0 and zlib.crc32(key) % 10_000 < fraction * 10_000


def split_conversations(
    data: SFTData,
) -> tuple[list[Conversation], list[Conversation], dict[str, Any]]:
    train = read_conversations(data.train, data.on_error)
    report: dict[str, Any] = {"skipped_lines": [str(bad) for bad in train.skipped][:20]}
    report["skipped"] = len(train.skipped)
    if data.val:
        val = read_conversations(data.val, data.on_error)
        report["skipped"] += len(val.skipped)
        return list(train), list(val), report
    held = [c for c in train if is_held_out(c, data.val_fraction)]
    kept = [c for c in train if not is_held_out(c, data.val_fraction)]
    if not kept:
        raise UserError(
            "every conversation fell into the held-out share", field="data.val_fraction"
        )
    return kept, held, report


def masked_loss(model: nn.Module, rows: PackedRows, sliding_window: int = 0) -> torch.Tensor:
    """Mean next-token cross-entropy over the trained targets of packed rows."""
    logits = model(
        rows.input_ids,
        positions=rows.positions,
        backend=DocumentAttention(rows.document_ids, sliding_window),
    )
    return F.cross_entropy(
        logits.float().flatten(0, 1), rows.targets.flatten(), ignore_index=IGNORE_INDEX
    )


def run_sft(config: SFTConfig, run: Run) -> SFTResult:
    """Fine-tune ``config.model`` on ``config.data``; write the model (and adapter) into the run."""
    config.validate()
    loop = config.train
    if loop.threads:
        torch.set_num_threads(loop.threads)
    torch.manual_seed(loop.seed)
    device = loop.device_of()
    train_chats, val_chats, report = split_conversations(config.data)
    model, tokenizer, base_path = load_base(config.model, device)
    seq_len = min(config.data.seq_len, model.config.max_seq_len)
    pad = tokenizer.settings.get("pad_token_id") or tokenizer.eos_id or 0
    train_rows = pack(encode_all(train_chats, tokenizer), seq_len, pad, config.data.packing)
    val_rows = (
        pack(encode_all(val_chats, tokenizer), seq_len, pad, config.data.packing)
        if val_chats
        else None
    )
    train_rows, val_rows = train_rows.to(device), val_rows.to(device) if val_rows else None
    window = model.config.sliding_window
    trained: nn.Module = add_lora(model, config.lora, base_path) if config.lora.enabled else model
    trained.train()
    trainable, total = trainable_parameters(trained)
    summary = {
        "base": base_path,
        "method": f"lora r={config.lora.rank}" if config.lora.enabled else "full",
        "trainable_parameters": trainable,
        "parameters": total,
        "train_conversations": len(train_chats),
        "val_conversations": len(val_chats),
        "train_rows": len(train_rows),
        "packing_fill": round(train_rows.fill, 4),
        "truncated": train_rows.truncated,
        **report,
    }
    run.summary(**summary)
    trainer = PostTrainer("sft", trained, config.optim, loop, run)

    def loss_fn(indices: list[int]) -> tuple[torch.Tensor, dict[str, float]]:
        batch = train_rows.select(torch.tensor(indices, device=device))
        return masked_loss(trained, batch, window), {}

    def evaluate() -> dict[str, float]:
        assert val_rows is not None
        losses, counts = [], []
        for start in range(0, len(val_rows), loop.batch_size):
            batch = val_rows.select(slice(start, start + loop.batch_size))
            losses.append(float(masked_loss(trained, batch, window)))
            counts.append(int((batch.targets != IGNORE_INDEX).sum()))
        return {"val_loss": sum(x * n for x, n in zip(losses, counts, strict=True)) / sum(counts)}

    last = trainer.fit(Sampler(len(train_rows), loop.seed), loss_fn, evaluate if val_rows else None)
    return _finish(config, run, trained, tokenizer, trainer, {**summary, **last})


def _finish(
    config: SFTConfig,
    run: Run,
    trained: nn.Module,
    tokenizer: Any,
    trainer: PostTrainer,
    summary: dict[str, Any],
) -> SFTResult:
    trained.eval()
    adapter_dir = None
    if config.lora.enabled:
        adapter_dir = save_adapter(trained.to("cpu"), run.path / ADAPTER_FOLDER)
        model = merge(trained)
    else:
        model = trained  # type: ignore[assignment]
    model_dir = save_model(model.to("cpu"), tokenizer, run.path / MODEL_FOLDER, config, CONFIG_FILE)
    plots = trainer.plot(["loss", "val_loss"])
    summary.update(
        model=str(model_dir),
        adapter=str(adapter_dir) if adapter_dir else None,
        plots=[str(p) for p in plots],
        steps=trainer.step,
    )
    run.summary(**summary)
    return SFTResult(model_dir, adapter_dir, dict(run.record["summary"]))
