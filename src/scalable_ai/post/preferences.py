"""Preference pairs (the reward model's and DPO's data) and the log-probability of a response.

**Format.** One JSON object per line::

    {"prompt": "What is 2+3?", "chosen": "5", "rejected": "6"}
    {"prompt": [{"role": "system", ...}, {"role": "user", ...}], "chosen": ..., "rejected": ...}

``prompt`` is a user message (a string) or a ``messages`` list ending before the answer;
``chosen``/``rejected`` are the assistant's answers, as strings or as a one-message list
``[{"role": "assistant", "content": "..."}]`` (TRL's conversational format). Bad lines are
reported ``FILE:LINE: field: reason``, fatal or skipped (``chat.read_jsonl``).

Each answer is encoded as the prompt plus one assistant turn through the model's own chat
template, with only that last turn in the mask (``encode_conversation(train_on="last")``):
the tokens whose log-probability DPO sums, and whose last token the reward model reads.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from scalable_ai.errors import UserError
from scalable_ai.post.chat import (
    BadLine,
    ChatTokenizer,
    EncodedChat,
    OnError,
    check_messages,
    encode_conversation,
    read_jsonl,
    report_bad_line,
)


@dataclass
class PreferencePair:
    prompt: list[dict[str, str]]
    chosen: str
    rejected: str
    line: int = 0


@dataclass
class Preferences:
    path: str
    items: list[PreferencePair]
    skipped: list[BadLine]

    def __len__(self) -> int:
        return len(self.items)


def _answer(value: Any, name: str) -> tuple[str | None, str]:
    if isinstance(value, str):
        return value, ""
    if (
        isinstance(value, list)
        and len(value) == 1
        and isinstance(value[0], dict)
        and value[0].get("role") == "assistant"
        and isinstance(value[0].get("content"), str)
    ):
        return value[0]["content"], ""
    return None, f"{name}: expected a string or [{{'role': 'assistant', 'content': ...}}]"


def parse_pair(record: dict[str, Any], line: int = 0) -> PreferencePair | str:
    """The pair in ``record``, or why it is not one (``"field: reason"``)."""
    prompt = record.get("prompt")
    if isinstance(prompt, str):
        messages = [{"role": "user", "content": prompt}]
    else:
        problem = check_messages(prompt, require_assistant=False)
        if problem is not None or not isinstance(prompt, list):
            return "prompt" + (problem or "").removeprefix("messages")
        messages = [{"role": m["role"], "content": m["content"]} for m in prompt]
    chosen, problem = _answer(record.get("chosen"), "chosen")
    if chosen is None:
        return problem
    rejected, problem = _answer(record.get("rejected"), "rejected")
    if rejected is None:
        return problem
    return PreferencePair(messages, chosen, rejected, line)


def read_preferences(path: str | Path, on_error: OnError = "fatal") -> Preferences:
    data = read_jsonl(path, on_error)
    pairs = []
    for number, record in data.records:
        parsed = parse_pair(record, number)
        if isinstance(parsed, str):
            field_name, reason = parsed.split(": ", 1)
            report_bad_line(data, on_error, BadLine(data.path, number, field_name, reason))
            continue
        pairs.append(parsed)
    if not pairs:
        raise UserError(
            f"no usable preference pair ({len(data.skipped)} bad lines)", field=data.path
        )
    return Preferences(data.path, pairs, data.skipped)


def encode_pair(
    pair: PreferencePair, tokenizer: ChatTokenizer, max_tokens: int | None = None
) -> tuple[EncodedChat, EncodedChat]:
    """(chosen, rejected) encoded with only the answer's tokens in the mask."""

    def encode(answer: str) -> EncodedChat:
        messages = [*pair.prompt, {"role": "assistant", "content": answer}]
        try:
            return encode_conversation(messages, tokenizer, max_tokens, train_on="last")
        except UserError as error:
            raise UserError(f"line {pair.line}: {error}", field="data") from None

    return encode(pair.chosen), encode(pair.rejected)


@dataclass
class PaddedBatch:
    """Right-padded ids (B, T), the answer mask (B, T), and each row's last answer token."""

    ids: torch.Tensor
    mask: torch.Tensor
    last: torch.Tensor

    def to(self, device: torch.device | str) -> PaddedBatch:
        return PaddedBatch(self.ids.to(device), self.mask.to(device), self.last.to(device))


def pad_batch(examples: Sequence[EncodedChat], pad_id: int) -> PaddedBatch:
    """Right padding: causal attention never lets a real token see the padding after it."""
    length = max(len(e) for e in examples)
    ids = torch.full((len(examples), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(examples), length), dtype=torch.bool)
    last = torch.zeros(len(examples), dtype=torch.long)
    for row, example in enumerate(examples):
        if not any(example.loss_mask):
            raise UserError("an answer has no token left after truncation", field="max_tokens")
        ids[row, : len(example)] = torch.tensor(example.ids)
        mask[row, : len(example)] = torch.tensor(example.loss_mask)
        last[row] = max(i for i, trained in enumerate(example.loss_mask) if trained)
    return PaddedBatch(ids, mask, last)


def sequence_logprobs(model: nn.Module, batch: PaddedBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """(sum of log p(token) over each row's answer tokens, the number of those tokens)."""
    logits = model(batch.ids)[:, :-1]
    targets = batch.ids[:, 1:]
    token_logprobs = -F.cross_entropy(
        logits.float().flatten(0, 1), targets.flatten(), reduction="none"
    ).view_as(targets)
    weights = batch.mask[:, 1:].to(token_logprobs.dtype)
    return (token_logprobs * weights).sum(dim=1), weights.sum(dim=1)


@dataclass
class PairData:
    """Preference pairs: a training file, a held-out file or a hashed share, and a length cap."""

    train: str = ""
    val: str = ""  # empty: hold out val_fraction of the training pairs
    val_fraction: float = 0.1
    on_error: OnError = "fatal"
    max_tokens: int = 512

    def validate(self) -> None:
        if not self.train:
            raise UserError("give a preference JSONL file (--data.train FILE)", field="data.train")
        if not 0 <= self.val_fraction < 1:
            raise UserError("must be in [0, 1)", field="data.val_fraction")


def is_held_out(pair: PreferencePair, fraction: float) -> bool:
    """A stable split by the pair's text, whatever the file's order."""
    key = "\x1e".join([*(m["content"] for m in pair.prompt), pair.chosen, pair.rejected])
    return fraction > 0 and zlib.crc32(key.encode()) % 10_000 < fraction * 10_000


def split_pairs(
    data: PairData,
) -> tuple[list[PreferencePair], list[PreferencePair], dict[str, Any]]:
    """(training pairs, held-out pairs, a report of skipped lines for the run summary)."""
    data.validate()
    train = read_preferences(data.train, data.on_error)
    skipped = list(train.skipped)
    if data.val:
        val = read_preferences(data.val, data.on_error)
        skipped += val.skipped
        kept, held = train.items, val.items
    else:
        held = [p for p in train.items if is_held_out(p, data.val_fraction)]
        kept = [p for p in train.items if not is_held_out(p, data.val_fraction)]
    if not kept:
        raise UserError("every pair fell into the held-out share", field="data.val_fraction")
    report = {"skipped": len(skipped), "skipped_lines": [str(bad) for bad in skipped][:20]}
    return kept, held, report


class EncodedPairs:
    """Pairs encoded once; ``batch(indices)`` gives chosen rows then rejected rows, padded."""

    def __init__(
        self, pairs: Sequence[PreferencePair], tokenizer: ChatTokenizer, max_tokens: int
    ) -> None:
        encoded = [encode_pair(pair, tokenizer, max_tokens) for pair in pairs]
        self.chosen = [c for c, _ in encoded]
        self.rejected = [r for _, r in encoded]
        self.pad_id = int(
            tokenizer.settings.get("pad_token_id") or tokenizer.settings.get("eos_token_id") or 0
        )

    def __len__(self) -> int:
        return len(self.chosen)

    def batch(self, indices: Sequence[int]) -> PaddedBatch:
        rows = [self.chosen[i] for i in indices] + [self.rejected[i] for i in indices]
        return pad_batch(rows, self.pad_id)
