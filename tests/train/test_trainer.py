"""The trainer: schedules, accumulation, learning, and exact resume after ``kill -9``.

The resume test is the issue's clause as written: a real ``sai train`` process is killed with
SIGKILL mid-run, ``sai train --resume`` continues from its newest checkpoint, and the loss
curve and final weights equal an uninterrupted run's bit for bit (CPU, one thread).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from scalable_ai.config import dump_toml
from scalable_ai.errors import UserError
from scalable_ai.train.config import load_train_config
from scalable_ai.train.schedule import lr_factor
from scalable_ai.train.trainer import Trainer
from tests.train.conftest import train_tokenizer

SAI = [sys.executable, "-m", "scalable_ai.cli"]
# The tests sharing the uninterrupted run stay on one xdist worker (make test's --dist
# loadgroup), so that run is trained once.
SAME_WORKER = pytest.mark.xdist_group("train-uninterrupted-run")
STEPS, EVERY = 120, 40


def tiny_overrides(shards: Path, **extra: object) -> list[str]:
    """A 2-layer, 64-wide model on 32-token sequences, one CPU thread (tests share 2 cores)."""
    settings = {
        "data.shards": shards,
        "model.vocab_size": 320,
        "model.dim": 64,
        "model.n_layers": 2,
        "model.n_heads": 4,
        "model.n_kv_heads": 2,
        "model.ffn_hidden": 128,
        "model.max_seq_len": 128,
        "data.seq_len": 32,
        "train.batch_size": 8,
        "train.threads": 1,
        "train.progress": "false",
        "train.peak_tflops": 1.0,
        "train.warmup_steps": 5,
        "train.log_every": 1,
        **extra,
    }
    return [f"{key}={value}" for key, value in settings.items()]


def write_config(path: Path, shards: Path, **extra: object) -> Path:
    """The same settings as a TOML file, the way a person would keep them."""
    path.write_text(dump_toml(load_train_config(overrides=tiny_overrides(shards, **extra))))
    return path


def sai_train(runs: Path, *args: str) -> subprocess.Popen:
    env = {**os.environ, "SAI_RUNS_DIR": str(runs), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [*SAI, "train", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finished(process: subprocess.Popen) -> tuple[int, str, str]:
    out, err = process.communicate(timeout=300)
    return process.returncode, out, err


def the_run(runs: Path) -> Path:
    (folder,) = [p for p in runs.iterdir() if (p / "run.json").is_file()]
    return folder


def losses(run: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {row["step"]: row["loss"] for row in rows if "loss" in row}


@pytest.fixture(scope="module")
def config_file(shard_folder, tmp_path_factory) -> Path:
    return write_config(
        tmp_path_factory.mktemp("config") / "tiny.toml",
        shard_folder,
        **{
            "train.steps": STEPS,
            "train.checkpoint_every": EVERY,
            "train.eval_every": EVERY,
            "train.keep_checkpoints": 0,
        },
    )


@pytest.fixture(scope="module")
def uninterrupted(config_file, tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("uninterrupted")
    code, out, err = finished(sai_train(runs, str(config_file)))
    assert code == 0, err
    checkpoint = Path(out.strip())
    assert checkpoint.name == f"step-{STEPS:08d}" and "serve it: sai serve" in err
    return the_run(runs)


@SAME_WORKER
def test_resuming_after_kill_9_reproduces_the_uninterrupted_loss_curve_bit_for_bit(
    config_file, uninterrupted, tmp_path
):
    runs = tmp_path / "runs"
    process = sai_train(runs, str(config_file))
    deadline = time.monotonic() + 240
    while True:  # kill once the first checkpoint exists and a few steps have run past it
        assert process.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline
        done = list(runs.glob(f"*/checkpoints/step-{EVERY:08d}/trainer_state.json"))
        if done and len(losses(done[0].parents[2])) >= EVERY + 5:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            break
        time.sleep(0.01)
    killed = the_run(runs)
    assert json.loads((killed / "run.json").read_text())["status"] == "running"
    before = losses(killed)
    assert EVERY + 5 <= len(before) < STEPS

    code, out, err = finished(sai_train(runs, "--resume", str(killed)))
    assert code == 0, err
    resumed = next(p for p in runs.iterdir() if p != killed and (p / "run.json").is_file())
    after = losses(resumed)
    expected = losses(uninterrupted)
    assert sorted(after) == list(range(EVERY + 1, STEPS + 1))
    assert after == {step: expected[step] for step in after}  # exact float equality
    assert before == {step: expected[step] for step in before}
    final = Path(out.strip())
    reference = uninterrupted / "checkpoints" / final.name
    for name in ("model.safetensors", "optimizer.safetensors"):
        assert (final / name).read_bytes() == (reference / name).read_bytes(), name
    record = json.loads((resumed / "run.json").read_text())
    assert record["status"] == "completed"
    assert record["summary"]["resumed_at_step"] == EVERY


@SAME_WORKER
def test_resuming_with_a_changed_model_shape_fails_in_one_line_and_keeps_the_checkpoint(
    uninterrupted, tmp_path
):
    runs = tmp_path / "runs"
    code, _, err = finished(
        sai_train(
            runs, "--resume", str(uninterrupted), "--model.dim", "96", "--model.ffn_hidden", "128"
        )
    )
    assert code == 2 and err.strip().count("\n") == 0
    assert "model.dim" in err and "same model shape" in err
    record = json.loads((the_run(runs) / "run.json").read_text())
    assert record["status"] == "failed" and "model.dim" in record["error"]
    assert (uninterrupted / "checkpoints" / f"step-{STEPS:08d}" / "model.safetensors").is_file()


def test_an_unknown_config_field_fails_in_one_line_and_marks_the_run_failed(tmp_path):
    runs = tmp_path / "runs"
    code, _, err = finished(sai_train(runs, "--preset", "tiny", "--train.learning_rate", "1"))
    assert code == 2 and err.strip().count("\n") == 0
    assert "train.learning_rate: unknown field" in err
    record = json.loads((the_run(runs) / "run.json").read_text())
    assert record["status"] == "failed" and "train.learning_rate" in record["error"]


def test_warmup_then_cosine_ends_at_the_floor():
    factors = [lr_factor(s, 100, 10, "cosine", min_ratio=0.1) for s in range(100)]
    assert factors[0] == pytest.approx(0.1) and factors[9] == 1.0
    assert factors[10] == pytest.approx(1.0) and factors[99] == pytest.approx(0.1)
    assert all(a >= b for a, b in itertools.pairwise(factors[10:]))
    assert factors[55] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 45 / 89)))


def test_wsd_is_flat_until_the_decay_then_linear_to_the_floor():
    factors = [lr_factor(s, 100, 10, "wsd", min_ratio=0.0, decay_fraction=0.2) for s in range(100)]
    assert factors[10:80] == [1.0] * 70
    assert factors[80] == pytest.approx(0.95) and factors[99] == pytest.approx(0.0)


def test_gradient_accumulation_equals_one_big_batch(shard_folder):
    def curve(batch: int, accumulate: int) -> list[float]:
        config = load_train_config(
            overrides=tiny_overrides(
                shard_folder,
                **{
                    "train.batch_size": batch,
                    "train.grad_accum": accumulate,
                    "train.precision": "float32",
                    "train.steps": 4,
                },
            )
        )
        trainer = Trainer(config)
        return [float(trainer.train_step()[0]) for _ in range(4)]

    whole, accumulated = curve(8, 1), curve(4, 2)
    assert whole == pytest.approx(accumulated, rel=1e-5, abs=1e-6)


def test_a_short_run_beats_the_unigram_baseline_by_a_nat(shard_folder):
    config = load_train_config(
        overrides=tiny_overrides(
            shard_folder,
            **{
                "train.steps": 60,
                "train.eval_every": 60,
                "train.log_every": 20,
                "train.checkpoint_every": 60,
                "train.sample_tokens": 8,
            },
        )
    )
    result = Trainer(config).fit()
    assert result.unigram_val_loss is not None
    assert result.val_loss < result.unigram_val_loss - 1.0
    assert result.sample.startswith("The") and len(result.sample) > len("The")


def test_a_tokenizer_other_than_the_shards_one_is_refused(
    shard_folder, corpus_and_tokenizer, tmp_path
):
    corpus, _ = corpus_and_tokenizer
    other = train_tokenizer(corpus, tmp_path / "other", vocab_size=290)
    config = load_train_config(overrides=tiny_overrides(shard_folder, **{"data.tokenizer": other}))
    with pytest.raises(UserError, match=r"other/tokenizer\.json: not the tokenizer"):
        Trainer(config)


def test_bf16_autocast_trains_where_the_cpu_has_it(shard_folder):
    config = load_train_config(
        overrides=tiny_overrides(shard_folder, **{"train.precision": "bfloat16", "train.steps": 3})
    )
    trainer = Trainer(config)
    loss = trainer.train_step()[0]
    assert torch.isfinite(loss) and trainer.model.embed.weight.dtype == torch.float32


@SAME_WORKER
def test_a_checkpoint_is_served_by_sai_serve_to_the_openai_client(uninterrupted, tmp_path):
    import httpx
    import openai

    checkpoint = uninterrupted / "checkpoints" / f"step-{STEPS:08d}"
    generated = subprocess.run(
        [
            *SAI,
            "generate",
            "--model",
            str(checkpoint),
            "--max-tokens",
            "8",
            "--temperature",
            "0",
            "the student",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "SAI_RUNS_DIR": str(tmp_path / "runs")},
    )
    assert generated.returncode == 0 and generated.stdout.strip(), generated.stderr
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "SAI_RUNS_DIR": str(tmp_path / "runs"),
        "SAI_DATA_DIR": str(tmp_path / "data"),
    }
    server = subprocess.Popen(
        [
            *SAI,
            "serve",
            str(checkpoint),
            "--port",
            str(port),
            "--dtype",
            "float32",
            "--max-model-len",
            "128",
            "--kv-cache-megabytes",
            "8",
            "--threads",
            "1",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.stdout.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "sai serve did not come up"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
        # The checkpoint, and the embedding model `sai serve` adds when scalable-ai[apps] is in.
        from scalable_ai.infer.embeddings import DEFAULT_EMBEDDING_MODEL

        (model,) = [m.id for m in client.models.list() if m.id != DEFAULT_EMBEDDING_MODEL]
        completion = client.completions.create(
            model=model, prompt="the student", max_tokens=8, temperature=0
        )
        assert completion.choices[0].text == generated.stdout.rstrip("\n")
        chat = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
        assert chat.choices[0].message.role == "assistant"
    finally:
        server.terminate()
        server.wait(30)


def test_sai_speedrun_goes_from_documents_to_a_servable_checkpoint_beating_unigram(tmp_path):
    from tests.train.conftest import write_prose

    corpus = write_prose(tmp_path / "prose.jsonl")
    env = {
        **os.environ,
        "SAI_RUNS_DIR": str(tmp_path / "runs"),
        "SAI_DATA_DIR": str(tmp_path / "data"),
        "OMP_NUM_THREADS": "1",
    }
    tiny = tiny_overrides(
        Path("unused"),
        **{
            "train.steps": 60,
            "train.eval_every": 30,
            "train.checkpoint_every": 60,
            "train.sample_tokens": 8,
        },
    )
    overrides = [
        f"--{item}" for item in tiny if not item.startswith(("data.shards", "model.vocab_size"))
    ]
    result = subprocess.run(
        [
            *SAI,
            "speedrun",
            "--corpus",
            str(corpus),
            "--vocab-size",
            "300",
            "--val-fraction",
            "0.1",
            *overrides,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    checkpoint = Path(result.stdout.strip())
    assert (checkpoint / "model.safetensors").is_file()
    assert (checkpoint / "tokenizer.json").is_file()
    assert f"serve it:   sai serve {checkpoint}" in result.stderr
    card = json.loads((checkpoint.parents[1] / "run.json").read_text())["summary"]["report_card"]
    assert list(card["stages"]) == ["curate", "tokenizer", "shard", "pretrain"]
    assert card["beats_unigram"] and card["margin_nats"] >= card["required_margin_nats"] == 1.0
