"""Token shards and the sequence loader: lossless encoding, disjoint ranks, exact resume."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from scalable_ai.data.loader import SequenceLoader, ShardSet
from scalable_ai.data.tokenize import ShardConfig, is_validation, load_tokenizer, write_shards
from scalable_ai.errors import UserError
from tests.train.conftest import train_tokenizer


def test_every_document_decodes_back_from_its_shard_and_ends_with_end_of_text(
    shard_folder, corpus_and_tokenizer
):
    corpus, tokenizer_folder = corpus_and_tokenizer
    tokenizer = load_tokenizer(tokenizer_folder)
    texts = {
        json.loads(line)["id"]: json.loads(line)["text"] for line in corpus.read_text().splitlines()
    }
    shards = ShardSet(shard_folder)
    decoded = []
    for split in ("train", "val"):
        for shard in shards.splits[split]:
            assert shard.tokens.dtype == np.uint16  # a 300-token vocabulary fits in 16 bits
            starts = shard.document_starts
            for begin, end in itertools.pairwise(starts):
                ids = shard.tokens[int(begin) : int(end)].tolist()
                assert ids[-1] == tokenizer.eos_id
                decoded.append((split, tokenizer.decode(ids[:-1])))
    assert sorted(text for _, text in decoded) == sorted(texts.values())
    meta = shards.meta["splits"]
    assert meta["train"]["documents"] + meta["val"]["documents"] == len(texts)
    assert len(meta["train"]["shards"]) > 1  # 8,000-token shards: several files
    val_ids = {i for i in texts if is_validation(i, 0.1)}
    assert meta["val"]["documents"] == len(val_ids) > 0


def test_ranks_read_disjoint_sequences_that_together_are_the_single_process_batch(shard_folder):
    shards = ShardSet(shard_folder)
    single = SequenceLoader(shards, "train", seq_len=16, batch_size=6, seed=3)
    ranks = [
        SequenceLoader(shards, "train", seq_len=16, batch_size=2, rank=r, world_size=3, seed=3)
        for r in range(3)
    ]
    for _ in range(5):
        whole, _ = single.next_batch()
        parts = [loader.next_batch()[0] for loader in ranks]
        assert torch.equal(torch.cat(parts), whole)
        rows = {tuple(row.tolist()) for part in parts for row in part}
        assert len(rows) == 6


def test_targets_are_inputs_shifted_by_one_token(shard_folder):
    inputs, targets = SequenceLoader(ShardSet(shard_folder), "train", 32, 4).next_batch()
    assert inputs.shape == targets.shape == (4, 32) and inputs.dtype == torch.int64
    assert torch.equal(inputs[:, 1:], targets[:, :-1])


def test_an_epoch_visits_every_sequence_once_then_reshuffles(shard_folder):
    loader = SequenceLoader(ShardSet(shard_folder), "train", seq_len=64, batch_size=1, seed=0)
    first = [tuple(loader.next_batch()[0][0].tolist()) for _ in range(loader.num_windows)]
    assert len(set(first)) == loader.num_windows and loader.epoch == 0
    second = [tuple(loader.next_batch()[0][0].tolist()) for _ in range(loader.num_windows)]
    assert sorted(second) == sorted(first) and second != first and loader.epoch == 1


def test_resuming_from_a_state_dict_continues_at_the_exact_next_sequence(shard_folder):
    shards = ShardSet(shard_folder)
    loader = SequenceLoader(shards, "train", seq_len=16, batch_size=4, seed=7)
    steps = loader.num_windows // 4 + 3  # crosses an epoch boundary
    for _ in range(steps - 2):
        loader.next_batch()
    state = json.loads(json.dumps(loader.state_dict()))  # survives being written as JSON
    expected = [loader.next_batch()[0] for _ in range(4)]
    fresh = SequenceLoader(shards, "train", seq_len=16, batch_size=4, seed=7)
    fresh.load_state_dict(state)
    assert all(torch.equal(a, fresh.next_batch()[0]) for a in expected)


def test_a_position_saved_for_another_sequence_length_is_refused(shard_folder):
    shards = ShardSet(shard_folder)
    state = SequenceLoader(shards, "train", 16, 2).state_dict()
    with pytest.raises(UserError, match="saved position"):
        SequenceLoader(shards, "train", 32, 2).load_state_dict(state)


@pytest.fixture
def shard_copy(shard_folder, tmp_path):
    copy = tmp_path / "shards"
    shutil.copytree(shard_folder, copy)
    return copy


def test_a_truncated_shard_is_named_in_a_one_line_error(shard_copy):
    target = shard_copy / "train-00001.npy"
    target.write_bytes(target.read_bytes()[:-10])
    with pytest.raises(UserError) as error:
        ShardSet(shard_copy, verify=False)
    assert str(target) in str(error.value) and "\n" not in str(error.value)


def test_a_corrupted_shard_fails_its_checksum(shard_copy):
    target = shard_copy / "val-00000.npy"
    data = bytearray(target.read_bytes())
    data[-3] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(UserError, match=r"val-00000\.npy: contents differ"):
        ShardSet(shard_copy)


def test_a_folder_without_meta_json_is_not_a_shard_folder(tmp_path):
    with pytest.raises(UserError, match=r"no meta\.json"):
        ShardSet(tmp_path)


def test_a_tokenizer_other_than_the_shards_one_is_refused(
    shard_folder, corpus_and_tokenizer, tmp_path
):
    corpus, tokenizer_folder = corpus_and_tokenizer
    ShardSet(shard_folder).check_tokenizer(tokenizer_folder)
    other = train_tokenizer(corpus, tmp_path / "other", vocab_size=280)
    with pytest.raises(UserError, match=r"other/tokenizer.json: not the tokenizer"):
        ShardSet(shard_folder).check_tokenizer(other)


def test_a_malformed_jsonl_line_is_named_by_file_and_line(tmp_path, corpus_and_tokenizer):
    _, tokenizer_folder = corpus_and_tokenizer
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "text": "fine"}\n{"id": "b", "text": \n')
    with pytest.raises(UserError, match=r"bad.jsonl:2: not JSON"):
        write_shards(bad, tokenizer_folder, tmp_path / "out", progress=False)


def test_sai_data_shard_writes_shards_and_a_run(tmp_path, corpus_and_tokenizer):
    corpus, tokenizer_folder = corpus_and_tokenizer
    out = tmp_path / "cli-shards"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "scalable_ai.cli",
            "data",
            "shard",
            str(corpus),
            "--tokenizer",
            str(tokenizer_folder),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["splits"]["train"]["tokens"] > 0
    assert ShardConfig().val_fraction == meta["val_fraction"]
