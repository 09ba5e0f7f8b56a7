"""``sai train --objective diffusion`` end to end: the same trainer, data and run registry train
a masked diffusion LM whose bound falls, whose checkpoint ``sai generate`` samples, and which
the autoregressive engine refuses with a reason instead of decoding garbage."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from scalable_ai.errors import UserError
from scalable_ai.model.config import ModelConfig
from tests.train.test_trainer import SAI, finished, sai_train, the_run, tiny_overrides


@pytest.fixture(scope="module")
def diffusion_run(shard_folder, tmp_path_factory) -> tuple[Path, Path]:
    runs = tmp_path_factory.mktemp("diffusion-runs")
    overrides = tiny_overrides(
        shard_folder,
        **{"train.steps": 80, "train.eval_every": 40, "train.checkpoint_every": 80},
    )
    args = [f"--{item.split('=', 1)[0]}={item.split('=', 1)[1]}" for item in overrides]
    code, out, err = finished(sai_train(runs, "--objective", "diffusion", *args))
    assert code == 0, err
    assert "sample it: sai generate" in err
    return the_run(runs), Path(out.strip())


def test_the_diffusion_bound_falls_and_the_checkpoint_is_a_bidirectional_model(diffusion_run):
    run, checkpoint = diffusion_run
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    losses = [row["loss"] for row in rows if "loss" in row]
    vals = [row["val_loss"] for row in rows if "val_loss" in row]
    # The 1/t-weighted estimate is noisy step to step; the fixed-mask validation bound is not.
    start = sum(losses[:5]) / 5
    assert sum(losses[-10:]) / 10 < 0.8 * start, losses
    assert vals[-1] < 0.8 * start, (vals, start)
    config = ModelConfig.load(checkpoint / "config.json")
    # The shards' vocabulary is 300 ids and the model had 320 rows: [MASK] is id 300.
    assert (config.causal, config.mask_token_id, config.vocab_size) == (False, 300, 320)
    record = json.loads((run / "run.json").read_text())
    assert record["config"]["train"]["objective"] == "diffusion"
    assert record["config"]["model"]["mask_token_id"] == 300


def test_sai_generate_samples_the_diffusion_checkpoint_in_the_given_steps(diffusion_run):
    _, checkpoint = diffusion_run
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [*SAI, "generate", "the student", "--model", str(checkpoint), "-n", "12", "--steps", "6"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()  # words of the grammar, cut at the end-of-text token


def test_the_autoregressive_engine_refuses_a_diffusion_checkpoint(diffusion_run):
    from scalable_ai.infer.engine import load_engine

    _, checkpoint = diffusion_run
    with pytest.raises(UserError, match="masked diffusion model"):
        load_engine(str(checkpoint), dtype="float32", device="cpu")
