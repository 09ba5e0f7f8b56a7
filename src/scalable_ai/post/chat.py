"""Chat data for post-training: conversations → token ids, an assistant-only loss mask, packing.

The API every post-training command shares (SFT, the reward model, DPO, GRPO, evaluation)::

    from scalable_ai.post.chat import read_conversations, encode_conversation, pack

    conversations = read_conversations("train.jsonl", on_error="skip")   # [Conversation]
    encoded = encode_conversation(conversations[0].messages, tokenizer)  # EncodedChat
    encoded.ids, encoded.loss_mask      # token ids; True where the loss trains the token
    rows = pack([encoded, ...], seq_len=256, pad_id=0)                    # PackedRows
    logits = model(rows.input_ids, positions=rows.positions,
                   backend=DocumentAttention(rows.document_ids))         # no cross-doc attention

**Data format.** One JSON object per line with a ``messages`` list in the OpenAI chat format:
``{"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}``. Other keys
are kept (``Conversation.record``). A malformed line (bad JSON, missing or ill-typed field)
is reported as ``FILE:LINE: field: reason``: fatal by default (``on_error="fatal"``), or
skipped and counted (``on_error="skip"``).

**The model's own template.** Text is rendered by the tokenizer's chat template
(``Tokenizer.apply_chat_template``: SmolLM2's Jinja template from its GGUF metadata, or our
trained tokenizer's ``<|im_start|>role\\n...<|im_end|>\\n``), so fine-tuning sees
conversations exactly as ``sai chat`` and ``sai serve`` render them at inference.

**The loss mask** trains only what the model must learn to say: each assistant turn's content
and the end-of-turn token that stops generation (``<|im_end|>``); role headers, system and
user turns, and the separator after the end-of-turn token are masked. Assistant spans are
found by rendering the conversation incrementally, as Hugging Face's
``return_assistant_tokens_mask`` and TRL's ``assistant_only_loss`` do without template
markup: the text of ``messages[:i]`` with a generation prompt ends where assistant turn ``i``
begins, and the text of ``messages[:i+1]`` ends after it. The whole conversation is then
tokenized once (so ids are exactly the ones inference produces) and a token is trained when
its first character lies in an assistant span. A template that is not prefix-stable (it
rewrites earlier turns when a later one is added) is refused.

**Packing** (as in T5 and Llama 3 pre-training; Krell et al. 2021, "Efficient Sequence
Packing without Cross-contamination") concatenates several conversations into one row of
``seq_len`` tokens. Each token carries its document id, positions restart at 0 for every
document (RoPE sees each document as if alone), and :class:`DocumentAttention`, an
``AttentionBackend`` for the model's seam, applies a block-diagonal causal mask through
``scaled_dot_product_attention``: no token attends to another document. Targets never cross
a document boundary either.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import torch
import torch.nn.functional as F

from scalable_ai.errors import UserError

IGNORE_INDEX = -100  # F.cross_entropy's default ignore_index: targets not trained
ROLES = ("system", "user", "assistant", "tool")
OnError = Literal["fatal", "skip"]


class ChatTokenizer(Protocol):
    """What this module needs of a tokenizer (``scalable_ai.model.tokenizer.Tokenizer``)."""

    settings: dict[str, Any]
    backend: Any

    @property
    def bos_id(self) -> int | None: ...

    def apply_chat_template(
        self, messages: list[dict[str, str]], add_generation_prompt: bool = True
    ) -> str: ...

    def stop_ids(self) -> set[int]: ...

    def token(self, token_id: int) -> str: ...


# ---- reading JSONL ---------------------------------------------------------------------


@dataclass
class BadLine:
    """A line that could not be used, and why."""

    path: str
    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.reason}"


@dataclass
class JsonlRecords:
    """The usable records of a JSONL file (with their line numbers) and the skipped lines."""

    path: str
    records: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    skipped: list[BadLine] = field(default_factory=list)


def _check_on_error(on_error: str) -> None:
    if on_error not in ("fatal", "skip"):
        raise UserError(f"must be 'fatal' or 'skip', got {on_error!r}", field="on_error")


def read_jsonl(path: str | Path, on_error: OnError = "fatal") -> JsonlRecords:
    """Every JSON object of a JSONL file with its 1-based line number; blank lines are skipped.

    A line that is not a JSON object raises ``UserError("FILE:LINE: ...")`` or, with
    ``on_error="skip"``, lands in ``skipped``."""
    _check_on_error(on_error)
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: no such file", field="data")
    result = JsonlRecords(str(path))
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                report_bad_line(result, on_error, BadLine(str(path), number, "json", exc.msg))
                continue
            if not isinstance(record, dict):
                reason = f"expected a JSON object, got {type(record).__name__}"
                report_bad_line(result, on_error, BadLine(str(path), number, "json", reason))
                continue
            result.records.append((number, record))
    return result


def report_bad_line(result: JsonlRecords, on_error: str, bad: BadLine) -> None:
    """Raise ``FILE:LINE: field: reason`` (``on_error="fatal"``) or keep it in ``skipped``."""
    if on_error == "fatal":
        raise UserError(f"{bad.field}: {bad.reason}", field=f"{bad.path}:{bad.line}")
    result.skipped.append(bad)


@dataclass
class Conversation:
    """One conversation of a file: its messages, its line, and the whole record."""

    messages: list[dict[str, str]]
    line: int
    record: dict[str, Any]


@dataclass
class Conversations:
    """The usable conversations of a file, and the lines skipped (``on_error="skip"``)."""

    path: str
    items: list[Conversation]
    skipped: list[BadLine]

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Conversation]:
        return iter(self.items)

    def __getitem__(self, index: int) -> Conversation:
        return self.items[index]


def check_messages(messages: Any, require_assistant: bool = True) -> str | None:
    """Why ``messages`` is not a usable conversation (``"messages[2].content: ..."``), or None."""
    if not isinstance(messages, list) or not messages:
        return "messages: expected a non-empty list of {role, content} objects"
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            return f"{where}: expected an object with role and content"
        role, content = message.get("role"), message.get("content")
        if role not in ROLES:
            return f"{where}.role: expected one of {', '.join(ROLES)}, got {role!r}"
        if not isinstance(content, str):
            return f"{where}.content: expected a string, got {type(content).__name__}"
    if require_assistant and not any(m["role"] == "assistant" for m in messages):
        return "messages: no assistant turn to train on"
    return None


def read_conversations(path: str | Path, on_error: OnError = "fatal") -> Conversations:
    """The conversations of a ``messages`` JSONL file (see the module docstring).

    With ``on_error="skip"`` the bad lines are dropped and listed in ``skipped``."""
    data = read_jsonl(path, on_error)
    conversations = []
    for number, record in data.records:
        problem = check_messages(record.get("messages"))
        if problem is not None:
            field_name, reason = problem.split(": ", 1)
            report_bad_line(data, on_error, BadLine(data.path, number, field_name, reason))
            continue
        messages = [{"role": m["role"], "content": m["content"]} for m in record["messages"]]
        conversations.append(Conversation(messages, number, record))
    if not conversations:
        raise UserError(f"no usable conversation ({len(data.skipped)} bad lines)", field=data.path)
    return Conversations(data.path, conversations, data.skipped)


# ---- one conversation → ids and loss mask -----------------------------------------------


@dataclass
class EncodedChat:
    """A conversation as token ids, ``loss_mask[i]`` True where token ``i`` is trained."""

    ids: list[int]
    loss_mask: list[bool]
    truncated: bool = False

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def trained_tokens(self) -> int:
        return sum(self.loss_mask)


def _render(tokenizer: ChatTokenizer, messages: list[dict[str, str]], prompt: bool) -> str:
    return tokenizer.apply_chat_template(messages, add_generation_prompt=prompt)


def _stop_texts(tokenizer: ChatTokenizer) -> list[str]:
    return [tokenizer.token(i) for i in sorted(tokenizer.stop_ids()) if tokenizer.token(i)]


def assistant_spans(
    messages: list[dict[str, str]],
    tokenizer: ChatTokenizer,
    train_on: Literal["all", "last"] = "all",
) -> tuple[str, list[tuple[int, int]]]:
    """(the conversation's text, character spans [start, end) the loss trains).

    A span runs from the first character of an assistant turn's content to the end of the
    end-of-turn token after it (or to the end of the turn's text when the template has none).
    ``train_on="last"`` keeps only the last assistant turn (a DPO/RM response)."""
    if not tokenizer.settings.get("chat_template"):
        raise UserError(
            "this tokenizer has no chat template; give a model whose tokenizer_config.json "
            "has one (ours from `sai tokenizer train`, or SmolLM2's)",
            field="tokenizer.chat_template",
        )
    text = _render(tokenizer, messages, prompt=False)
    stops = _stop_texts(tokenizer)
    spans: list[tuple[int, int]] = []
    indices = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    if train_on == "last":
        indices = indices[-1:]
    for index in indices:
        before = _render(tokenizer, messages[:index], prompt=True) if index else ""
        through = _render(tokenizer, messages[: index + 1], prompt=False)
        if not (through.startswith(before) and text.startswith(through)):
            raise UserError(
                "the chat template is not prefix-stable (adding a turn rewrites the text "
                "before it), so assistant tokens cannot be located",
                field="tokenizer.chat_template",
            )
        turn = through[len(before) :]
        content = messages[index]["content"]
        start = turn.find(content)
        if start < 0:  # a template that trims the content
            content = content.strip()
            start = turn.find(content)
        if start < 0:
            raise UserError(
                f"the chat template changes the text of assistant turn {index}, so its "
                "tokens cannot be located",
                field="tokenizer.chat_template",
            )
        ends = [turn.find(stop, start + len(content)) for stop in stops]
        found = [at + len(stop) for at, stop in zip(ends, stops, strict=True) if at >= 0]
        end = min(found) if found else len(turn.rstrip())
        spans.append((len(before) + start, len(before) + end))
    return text, spans


def encode_conversation(
    messages: list[dict[str, str]],
    tokenizer: ChatTokenizer,
    max_tokens: int | None = None,
    train_on: Literal["all", "last"] = "all",
) -> EncodedChat:
    """Token ids of ``messages`` under the tokenizer's own chat template, and the loss mask.

    ``max_tokens`` truncates (``EncodedChat.truncated`` says so). The BOS id is prepended
    when the tokenizer adds one to every text (as inference does), and never trained."""
    problem = check_messages(messages)
    if problem is not None:
        field_name, reason = problem.split(": ", 1)
        raise UserError(reason, field=field_name)
    text, spans = assistant_spans(messages, tokenizer, train_on)
    encoding = tokenizer.backend.encode(text, add_special_tokens=False)
    ids = list(encoding.ids)
    mask = [any(start <= begin < end for start, end in spans) for begin, _ in encoding.offsets]
    bos = tokenizer.bos_id
    if tokenizer.settings.get("add_bos_token") and bos is not None:
        ids, mask = [bos, *ids], [False, *mask]
    truncated = max_tokens is not None and len(ids) > max_tokens
    if truncated:
        ids, mask = ids[:max_tokens], mask[:max_tokens]
    return EncodedChat(ids, mask, truncated)


# ---- packing ----------------------------------------------------------------------------


@dataclass
class PackedRows:
    """Rows of ``seq_len`` tokens holding whole documents back to back (see module docstring).

    ``targets[r, t]`` is the next token of the same document where that token is trained,
    else ``IGNORE_INDEX``; ``document_ids`` numbers the documents of a row from 0 (padding is
    one more document of its own); ``positions`` restart at 0 per document."""

    input_ids: torch.Tensor
    targets: torch.Tensor
    positions: torch.Tensor
    document_ids: torch.Tensor
    documents: int = 0
    truncated: int = 0
    padding: int = 0

    def __len__(self) -> int:
        return int(self.input_ids.shape[0])

    @property
    def fill(self) -> float:
        """Share of the rows' tokens that belong to a document (not padding)."""
        return 1.0 - self.padding / max(1, self.input_ids.numel())

    def select(self, rows: torch.Tensor | slice) -> PackedRows:
        return PackedRows(
            self.input_ids[rows],
            self.targets[rows],
            self.positions[rows],
            self.document_ids[rows],
            self.documents,
            self.truncated,
            self.padding,
        )

    def to(self, device: torch.device | str) -> PackedRows:
        return PackedRows(
            self.input_ids.to(device),
            self.targets.to(device),
            self.positions.to(device),
            self.document_ids.to(device),
            self.documents,
            self.truncated,
            self.padding,
        )


def targets_of(example: EncodedChat) -> list[int]:
    """Next-token targets of one document: ``ids[i+1]`` where that token is trained."""
    shifted = [
        token if trained else IGNORE_INDEX
        for token, trained in zip(example.ids[1:], example.loss_mask[1:], strict=True)
    ]
    return [*shifted, IGNORE_INDEX]


def pack(
    examples: Sequence[EncodedChat], seq_len: int, pad_id: int = 0, packing: bool = True
) -> PackedRows:
    """Pack documents into rows of ``seq_len`` (first-fit decreasing: longest first, each into
    the first row with room). ``packing=False`` gives one document per row. A document longer
    than ``seq_len`` is cut to it (counted in ``truncated``); documents with no trained token
    after that are dropped."""
    if seq_len < 2:
        raise UserError(f"must be at least 2, got {seq_len}", field="seq_len")
    truncated = 0
    documents: list[tuple[list[int], list[int]]] = []
    for example in examples:
        ids, doc_targets = example.ids, targets_of(example)
        if len(ids) > seq_len:
            ids, doc_targets = ids[:seq_len], [*doc_targets[: seq_len - 1], IGNORE_INDEX]
            truncated += 1
        if any(t != IGNORE_INDEX for t in doc_targets):
            documents.append((ids, doc_targets))
    if not documents:
        raise UserError("no document has a trained token", field="data")
    rows: list[list[tuple[list[int], list[int]]]] = []
    room: list[int] = []
    order = sorted(range(len(documents)), key=lambda i: -len(documents[i][0]))
    for index in order if packing else range(len(documents)):
        size = len(documents[index][0])
        slot = next((r for r, free in enumerate(room) if free >= size), None) if packing else None
        if slot is None:
            rows.append([])
            room.append(seq_len)
            slot = len(rows) - 1
        rows[slot].append(documents[index])
        room[slot] -= size
    shape = (len(rows), seq_len)
    input_ids = torch.full(shape, pad_id, dtype=torch.long)
    targets = torch.full(shape, IGNORE_INDEX, dtype=torch.long)
    positions = torch.zeros(shape, dtype=torch.long)
    document_ids = torch.zeros(shape, dtype=torch.long)
    for r, row in enumerate(rows):
        at = 0
        for d, (ids, doc_targets) in enumerate(row):
            n = len(ids)
            input_ids[r, at : at + n] = torch.tensor(ids)
            targets[r, at : at + n] = torch.tensor(doc_targets)
            positions[r, at : at + n] = torch.arange(n)
            document_ids[r, at : at + n] = d
            at += n
        positions[r, at:] = torch.arange(seq_len - at)
        document_ids[r, at:] = len(row)
    padding = sum(room)
    return PackedRows(
        input_ids, targets, positions, document_ids, len(documents), truncated, padding
    )


class DocumentAttention:
    """An ``AttentionBackend`` for the model's seam: causal attention within each document.

    ``document_ids`` (B, T) comes from :func:`pack`. The mask (B, 1, T, T) is True where
    query ``t`` may see key ``s``: same document and ``s <= t`` (and, for a sliding-window
    model, ``t - s < window``). Built once per batch and shared by every layer."""

    def __init__(self, document_ids: torch.Tensor, sliding_window: int = 0) -> None:
        length = document_ids.shape[-1]
        index = torch.arange(length, device=document_ids.device)
        distance = index[:, None] - index[None, :]
        allowed = distance >= 0
        if sliding_window > 0:
            allowed = allowed & (distance < sliding_window)
        same = document_ids[:, :, None] == document_ids[:, None, :]
        self.mask = (same & allowed)[:, None]

    def attend(
        self, layer_index: int, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor
    ) -> torch.Tensor:
        return F.scaled_dot_product_attention(
            q, k, v, attn_mask=self.mask, enable_gqa=q.shape[1] != k.shape[1]
        )


def encode_all(
    conversations: Iterable[Conversation] | Iterable[list[dict[str, str]]],
    tokenizer: ChatTokenizer,
    max_tokens: int | None = None,
) -> list[EncodedChat]:
    """:func:`encode_conversation` over many conversations; a template error names the line."""
    encoded = []
    for item in conversations:
        messages = item.messages if isinstance(item, Conversation) else item
        try:
            encoded.append(encode_conversation(messages, tokenizer, max_tokens))
        except UserError as error:
            if isinstance(item, Conversation):
                raise UserError(f"line {item.line}: {error}", field="data") from None
            raise
    return encoded
