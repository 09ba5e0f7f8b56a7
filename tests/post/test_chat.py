"""Chat data: the model's own template, a loss mask on assistant tokens only (checked token by
token against a hand-built expectation), JSONL errors with line numbers, and packing that keeps
documents from attending to each other."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from scalable_ai.errors import UserError
from scalable_ai.model.tokenizer import Tokenizer
from scalable_ai.post.chat import (
    IGNORE_INDEX,
    DocumentAttention,
    EncodedChat,
    encode_conversation,
    pack,
    read_conversations,
    read_jsonl,
)
from tests.post.conftest import tiny_model

CONVERSATION = [
    {"role": "system", "content": "You add numbers."},
    {"role": "user", "content": "What is 2+3?"},
    {"role": "assistant", "content": "5"},
    {"role": "user", "content": "And 4+4?"},
    {"role": "assistant", "content": "It is 8."},
]


def hand_built(
    tokenizer: Tokenizer, pieces: list[tuple[str, bool]]
) -> tuple[list[int], list[bool]]:
    """Ids and mask written out piece by piece from the template's documented layout."""
    ids: list[int] = []
    mask: list[bool] = []
    for text, trained in pieces:
        piece = tokenizer.encode(text, add_bos=False)
        ids += piece
        mask += [trained] * len(piece)
    return ids, mask


def im_pieces(system: str | None) -> list[tuple[str, bool]]:
    """``<|im_start|>role\\ncontent<|im_end|>\\n`` turns: assistant content and its
    ``<|im_end|>`` trained, everything else (headers, system, user, the newline) not."""
    pieces = [(f"<|im_start|>system\n{system}<|im_end|>\n", False)] if system else []
    for message in CONVERSATION[1:] if CONVERSATION[0]["role"] == "system" else CONVERSATION:
        if message["role"] == "assistant":
            pieces += [
                ("<|im_start|>assistant\n", False),
                (message["content"], True),
                ("<|im_end|>", True),
                ("\n", False),
            ]
        else:
            pieces.append(
                (f"<|im_start|>{message['role']}\n{message['content']}<|im_end|>\n", False)
            )
    return pieces


def test_smollm2_template_trains_only_assistant_content_and_end_of_turn(smollm2_tokenizer):
    encoded = encode_conversation(CONVERSATION, smollm2_tokenizer)
    ids, mask = hand_built(smollm2_tokenizer, im_pieces("You add numbers."))
    assert encoded.ids == ids
    for position, (got, expected) in enumerate(zip(encoded.loss_mask, mask, strict=True)):
        token = smollm2_tokenizer.token(encoded.ids[position])
        assert got == expected, f"token {position} {token!r}"
    trained = [i for i, m in zip(encoded.ids, encoded.loss_mask, strict=True) if m]
    assert smollm2_tokenizer.decode(trained) == "5<|im_end|>It is 8.<|im_end|>"


def test_smollm2_default_system_prompt_is_masked(smollm2_tokenizer):
    """SmolLM2's template adds its own system turn when none is given: it is not trained."""
    messages = CONVERSATION[1:]
    encoded = encode_conversation(messages, smollm2_tokenizer)
    default = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    ids, mask = hand_built(smollm2_tokenizer, im_pieces(default))
    assert (encoded.ids, encoded.loss_mask) == (ids, mask)


def test_our_tokenizer_template_masks_token_by_token(our_tokenizer):
    encoded = encode_conversation(CONVERSATION, our_tokenizer)
    ids, mask = hand_built(our_tokenizer, im_pieces("You add numbers."))
    assert encoded.ids == ids
    assert encoded.loss_mask == mask
    assert our_tokenizer.token(encoded.ids[-2]) == "<|im_end|>" and encoded.loss_mask[-2]
    assert not encoded.loss_mask[-1]  # the newline after <|im_end|> is the template's


def test_train_on_last_keeps_only_the_final_response(our_tokenizer):
    encoded = encode_conversation(CONVERSATION, our_tokenizer, train_on="last")
    trained = [i for i, m in zip(encoded.ids, encoded.loss_mask, strict=True) if m]
    assert our_tokenizer.decode(trained) == "It is 8.<|im_end|>"


def test_bos_is_prepended_when_the_tokenizer_adds_one_and_never_trained(our_tokenizer):
    settings = {**our_tokenizer.settings, "add_bos_token": True}
    with_bos = Tokenizer(our_tokenizer.backend, settings)
    encoded = encode_conversation(CONVERSATION, with_bos)
    plain = encode_conversation(CONVERSATION, our_tokenizer)
    assert encoded.ids == [our_tokenizer.bos_id, *plain.ids]
    assert encoded.loss_mask == [False, *plain.loss_mask]


def test_truncation_is_reported(our_tokenizer):
    encoded = encode_conversation(CONVERSATION, our_tokenizer, max_tokens=10)
    assert len(encoded) == 10 and encoded.truncated


def test_a_tokenizer_without_a_chat_template_is_refused(our_tokenizer):
    bare = Tokenizer(our_tokenizer.backend, {"eos_token_id": our_tokenizer.eos_id})
    with pytest.raises(UserError) as caught:
        encode_conversation(CONVERSATION, bare)
    assert caught.value.field == "tokenizer.chat_template"


def test_a_message_without_content_names_the_field(our_tokenizer):
    with pytest.raises(UserError, match=r"messages\[1\]\.content"):
        encode_conversation([CONVERSATION[0], {"role": "user"}], our_tokenizer)


# ---- JSONL -------------------------------------------------------------------------------


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def messy_file(tmp_path: Path) -> Path:
    good = json.dumps({"messages": CONVERSATION[1:3]})
    return write_lines(
        tmp_path / "chats.jsonl",
        [
            good,  # 1
            "{not json",  # 2
            "[1, 2]",  # 3
            json.dumps({"messages": [{"role": "user"}]}),  # 4
            json.dumps({"messages": [{"role": "robot", "content": "hi"}]}),  # 5
            json.dumps({"messages": [{"role": "user", "content": "hi"}]}),  # 6: no assistant
            "",  # 7: blank, ignored
            json.dumps({"messages": CONVERSATION, "source": "designer"}),  # 8
        ],
    )


def test_malformed_line_is_fatal_by_default_and_names_file_and_line(messy_file):
    with pytest.raises(UserError) as caught:
        read_conversations(messy_file)
    assert str(caught.value).startswith(f"{messy_file}:2: json: ")


def test_skipping_keeps_good_lines_and_reports_each_bad_one(messy_file):
    data = read_conversations(messy_file, on_error="skip")
    assert [c.line for c in data] == [1, 8]
    assert data[1].record["source"] == "designer"
    reasons = {bad.line: (bad.field, bad.reason) for bad in data.skipped}
    assert sorted(reasons) == [2, 3, 4, 5, 6]
    assert reasons[4][0] == "messages[0].content"
    assert reasons[5][0] == "messages[0].role"
    assert "no assistant turn" in reasons[6][1]
    assert str(data.skipped[0]).startswith(f"{messy_file}:2: json:")


def test_a_file_with_no_usable_line_is_an_error(tmp_path):
    path = write_lines(tmp_path / "bad.jsonl", ["{oops"])
    with pytest.raises(UserError, match="no usable conversation"):
        read_conversations(path, on_error="skip")
    with pytest.raises(UserError, match="no such file"):
        read_jsonl(tmp_path / "missing.jsonl")


# ---- packing -------------------------------------------------------------------------------


def documents() -> list[EncodedChat]:
    generator = torch.Generator().manual_seed(0)
    out = []
    for length in (7, 5, 3, 9):
        ids = torch.randint(0, 300, (length,), generator=generator).tolist()
        mask = [i >= length // 2 for i in range(length)]
        out.append(EncodedChat(ids, mask))
    return out


def test_pack_places_whole_documents_with_restarted_positions():
    docs = documents()
    rows = pack(docs, seq_len=16, pad_id=0)
    assert rows.documents == 4 and len(rows) == 2  # 9+7 | 5+3 (+8 padding), first fit decreasing
    assert rows.padding == 8 and rows.fill == pytest.approx(24 / 32)
    assert rows.input_ids[0].tolist() == docs[3].ids + docs[0].ids
    assert rows.positions[0].tolist() == list(range(9)) + list(range(7))
    assert rows.document_ids[1].tolist() == [0] * 5 + [1] * 3 + [2] * 8
    # Targets: the next token of the same document where it is trained; never across documents.
    doc = docs[3]
    expected = [doc.ids[i + 1] if doc.loss_mask[i + 1] else IGNORE_INDEX for i in range(8)]
    assert rows.targets[0, :9].tolist() == [*expected, IGNORE_INDEX]
    assert rows.targets[1, 8:].eq(IGNORE_INDEX).all()


def test_pack_truncates_long_documents_and_can_keep_one_per_row():
    rows = pack(documents(), seq_len=8, packing=False)
    assert len(rows) == 4 and rows.truncated == 1
    assert rows.targets[:, -1].eq(IGNORE_INDEX).all()


@pytest.mark.parametrize("window", [0, 3])
def test_packed_forward_equals_each_document_alone(window):
    """Block-diagonal attention and restarted positions: a packed row computes, for every
    document, exactly the logits that document gets on its own."""
    model = tiny_model(sliding_window=window)
    docs = documents()
    rows = pack(docs, seq_len=16)
    with torch.no_grad():
        packed = model(
            rows.input_ids,
            positions=rows.positions,
            backend=DocumentAttention(rows.document_ids, window),
        )
        for row in range(len(rows)):
            for doc_id in rows.document_ids[row].unique().tolist():
                where = rows.document_ids[row] == doc_id
                alone = model(rows.input_ids[row][where][None])
                torch.testing.assert_close(packed[row][where], alone[0], atol=1e-5, rtol=1e-5)


def test_no_attention_across_documents():
    model = tiny_model()
    rows = pack(documents(), seq_len=16)
    changed = rows.input_ids.clone()
    changed[0, :9] = (changed[0, :9] + 1) % 300  # rewrite the first document of row 0
    with torch.no_grad():
        before = model(rows.input_ids, rows.positions, DocumentAttention(rows.document_ids))
        after = model(changed, rows.positions, DocumentAttention(rows.document_ids))
    assert torch.equal(before[0, 9:], after[0, 9:])
    assert not torch.equal(before[0, :9], after[0, :9])
