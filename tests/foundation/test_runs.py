"""The run registry: what a run records, reading runs back, and bit-reproducible seeds."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest
import torch

from scalable_ai.errors import NotFound
from scalable_ai.runs import list_runs, load_run, open_run, plot_metric, read_metrics


@dataclass
class TinyJob:
    steps: int = 25
    hidden: int = 16
    lr: float = 0.05


def tiny_training_job(config: TinyJob, seed: int) -> tuple[str, torch.Tensor]:
    """A real (tiny) training loop: an MLP regressing a random target, logged as a run."""
    with open_run("test.tiny_job", config=config, seed=seed) as run:
        model = torch.nn.Sequential(
            torch.nn.Linear(8, config.hidden), torch.nn.GELU(), torch.nn.Linear(config.hidden, 1)
        )
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
        x, y = torch.randn(64, 8), torch.randn(64, 1)
        for step in range(config.steps):
            loss = torch.nn.functional.mse_loss(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            run.log(step, loss=loss.item())
        run.summary(final_loss=loss.item())
        weights = torch.cat([p.detach().flatten() for p in model.parameters()])
    return run.id, weights


def test_same_seed_gives_bit_identical_runs():
    first_id, first = tiny_training_job(TinyJob(), seed=1234)
    second_id, second = tiny_training_job(TinyJob(), seed=1234)
    assert first_id != second_id
    assert torch.equal(first, second)
    losses = [[row["loss"] for row in read_metrics(load_run(i))] for i in (first_id, second_id)]
    assert losses[0] == losses[1] and len(losses[0]) == 25


def test_different_seed_gives_a_different_run():
    _, first = tiny_training_job(TinyJob(steps=3), seed=1)
    _, second = tiny_training_job(TinyJob(steps=3), seed=2)
    assert not torch.equal(first, second)


def test_run_json_records_how_the_run_was_made():
    run_id, _ = tiny_training_job(TinyJob(steps=2), seed=7)
    record = load_run(run_id)
    data = json.loads((record.path / "run.json").read_text())
    assert data["status"] == "completed"
    assert data["config"] == {"steps": 2, "hidden": 16, "lr": 0.05}
    assert data["seed"] == 7
    assert set(data["git"]) == {"commit", "dirty"}
    assert data["versions"]["torch"].startswith("2.")
    assert data["host"]["hostname"] and data["device"]["cpu_count"] >= 1
    assert data["started_at"] <= data["ended_at"]
    assert "final_loss" in data["summary"]


def test_a_failing_run_is_marked_failed_with_its_error():
    with pytest.raises(RuntimeError), open_run("test.crash", config={"x": 1}) as run:
        run.log(0, loss=1.0)
        raise RuntimeError("out of memory")
    record = load_run(run.id)
    assert record.status == "failed" and "out of memory" in record.data["error"]
    assert read_metrics(record) == [
        {"step": 0, "time": read_metrics(record)[0]["time"], "loss": 1.0}
    ]


def test_runs_are_found_by_unique_id_prefix_or_suffix():
    run_id, _ = tiny_training_job(TinyJob(steps=1), seed=0)
    assert load_run(run_id[-4:]).id == run_id
    with pytest.raises(NotFound):
        load_run("no-such-run")


def test_artifacts_stay_inside_the_run_folder():
    with open_run("test.artifacts") as run:
        path = run.artifact("plots/a.txt")
        path.write_text("hi")
        with pytest.raises(ValueError):
            run.artifact("../../escape.txt")
    assert [p.name for p in load_run(run.id).artifacts()] == ["a.txt"]


def test_plot_writes_a_png_of_a_metric(tmp_path):
    run_id, _ = tiny_training_job(TinyJob(steps=5), seed=3)
    out = plot_metric([load_run(run_id)], "loss", tmp_path / "loss.png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(NotFound):
        plot_metric([load_run(run_id)], "accuracy", tmp_path / "none.png")


def test_list_runs_is_oldest_first_and_skips_broken_folders(isolated_locations):
    tiny_training_job(TinyJob(steps=1), seed=0)
    tiny_training_job(TinyJob(steps=1), seed=1)
    broken = isolated_locations / "runs" / "broken"
    broken.mkdir(parents=True)
    (broken / "run.json").write_text("{not json")
    runs = list_runs()
    assert len(runs) == 2 and runs[0].started_at <= runs[1].started_at


def test_a_run_stopped_by_sigterm_is_recorded_as_terminated(tmp_path):
    """``kill`` (a scheduler's cancel, torchrun stopping its workers) used to leave run.json
    saying "running" for ever: the default SIGTERM action skips every cleanup."""
    import signal
    import subprocess
    import sys
    import time

    script = (
        "import sys, time\n"
        "from scalable_ai.runs import open_run\n"
        f"with open_run('test.sleeper', runs_dir={str(tmp_path)!r}) as run:\n"
        "    run.log(0, loss=1.0)\n"
        "    print(run.id, flush=True)\n"
        "    time.sleep(60)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    run_id = child.stdout.readline().strip()
    time.sleep(0.2)
    child.send_signal(signal.SIGTERM)
    assert child.wait(timeout=30) == 128 + signal.SIGTERM  # as the default action exits
    record = json.loads((tmp_path / run_id / "run.json").read_text())
    assert record["status"] == "terminated" and record["ended_at"]
    assert record["error"] == "stopped by SIGTERM"


def test_a_run_keeps_a_sigterm_handler_someone_else_installed(tmp_path):
    """A server's own graceful shutdown (uvicorn's handler) is not replaced, and the
    default action comes back after the run."""
    import signal

    mine = []
    original = signal.signal(signal.SIGTERM, lambda *_: mine.append(1))
    try:
        with open_run("test.server", runs_dir=tmp_path):
            signal.raise_signal(signal.SIGTERM)
        assert mine == [1]
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        with open_run("test.plain", runs_dir=tmp_path):
            assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    finally:
        signal.signal(signal.SIGTERM, original)
