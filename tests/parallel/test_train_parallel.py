"""``sai launch -- sai train --parallel SPEC``: the trainer split by a spec, as one run.

Two "nodes" on 127.0.0.1 (a reservation's hostfile, c10d rendezvous) run ``sai train
--parallel fsdp=2`` with 4 sequences per rank; one process with 8 sequences is the
reference. Same rows per step (the loader gives each data rank its share), f32: the loss
curves agree within 1e-4 relative, and only rank 0 writes one run with a whole checkpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scalable_ai.data.tokenize import ShardConfig, write_shards
from scalable_ai.train import checkpoint as train_checkpoint
from scalable_ai.train.config import load_train_config
from scalable_ai.train.trainer import Trainer
from tests.parallel.test_launch import SAI, free_port, reservation_hostfile
from tests.train.conftest import train_tokenizer, write_corpus

SETTINGS = {
    "model.vocab_size": 320,
    "model.dim": 64,
    "model.n_layers": 2,
    "model.n_heads": 4,
    "model.n_kv_heads": 2,
    "model.ffn_hidden": 128,
    "model.max_seq_len": 128,
    "data.seq_len": 32,
    "train.threads": 1,
    "train.progress": "false",
    "train.peak_tflops": 1.0,
    "train.warmup_steps": 1,
    "train.log_every": 1,
    "train.steps": 4,
    "train.eval_every": 4,
    "train.eval_batches": 1,
    "train.checkpoint_every": 4,
    "train.precision": "float32",
    "train.grad_clip": 0,
}


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("parallel-train")
    corpus = write_corpus(root / "curated.jsonl", documents=200)
    tokenizer = train_tokenizer(corpus, root / "tokenizer")
    write_shards(
        corpus,
        tokenizer,
        root / "shards",
        ShardConfig(val_fraction=0.1, shard_tokens=8_000),
        progress=False,
    )
    return root / "shards"


def overrides(shards: Path, batch_size: int) -> list[str]:
    return [
        f"{k}={v}"
        for k, v in {**SETTINGS, "data.shards": shards, "train.batch_size": batch_size}.items()
    ]


def cli_flags(shards: Path, batch_size: int) -> list[str]:
    """The same settings as ``--section.field VALUE`` pairs."""
    pairs = (item.split("=", 1) for item in overrides(shards, batch_size))
    return [part for key, value in pairs for part in (f"--{key}", value)]


def test_sai_train_under_sai_launch_matches_one_process(shards, tmp_path):
    single = Trainer(load_train_config(overrides=overrides(shards, 8)))
    expected = [float(single.train_step()[0]) for _ in range(4)]

    runs = tmp_path / "runs"
    hostfile = reservation_hostfile(tmp_path, ("127.0.0.1", "127.0.0.1"))
    flags = cli_flags(shards, 4)
    done = subprocess.run(
        [
            SAI,
            "launch",
            "--hostfile",
            str(hostfile),
            "--nproc-per-node",
            "1",
            "--port",
            str(free_port()),
            "--spec",
            "fsdp=2",
            "--",
            SAI,
            "train",
            *flags,
        ],
        env={**os.environ, "SAI_RUNS_DIR": str(runs), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, [ln for ln in done.stderr.splitlines() if "error" in ln.lower()]
    (run,) = [p for p in runs.iterdir() if p.is_dir()]  # one run for the whole job
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [m["loss"] for m in metrics if "loss" in m]
    assert len(losses) == 4
    for got, want in zip(losses, expected, strict=True):
        assert got == pytest.approx(want, rel=1e-4)
    (checkpoint,) = (run / "checkpoints").glob("step-*")
    assert checkpoint.name == "step-00000004"
    weights, _, _ = train_checkpoint.load(checkpoint)  # whole tensors, not one rank's shards
    assert weights["embed.weight"].shape == (320, 64)
    assert weights["layers.0.mlp.gate_proj.weight"].shape == (128, 64)


def test_pipeline_spec_is_refused_by_sai_train(shards, tmp_path):
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scalable_ai.cli",
            "train",
            "--parallel",
            "pp=2",
            *cli_flags(shards, 4),
        ],
        env={
            **os.environ,
            "SAI_RUNS_DIR": str(tmp_path),
            "RANK": "0",
            "WORLD_SIZE": "1",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(free_port()),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2 and "pp and cp run through" in done.stderr
