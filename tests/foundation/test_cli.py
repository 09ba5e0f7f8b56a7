"""``sai`` as a newcomer meets it: help, doctor, runs, and one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scalable_ai.cli import VERBS, _module_present
from tests.foundation.test_runs import TinyJob, tiny_training_job

SAI = [sys.executable, "-m", "scalable_ai.cli"]


def sai(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*SAI, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {}), "COLUMNS": "200"},
    )


def test_help_lists_every_present_verb_and_no_absent_one():
    result = sai("--help")
    assert result.returncode == 0
    for name, spec in VERBS.items():
        present = (
            any(_module_present(t) for t, _ in spec["verbs"].values())
            if isinstance(spec, dict)
            else _module_present(spec[0])
        )
        assert (f"  {name} " in result.stdout) == present, name
    for always in ("doctor", "runs", "bench"):
        assert f"  {always} " in result.stdout


def test_doctor_reports_versions_devices_and_locations(isolated_locations):
    result = sai("doctor", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["versions"]["torch"].startswith("2.")
    assert report["devices"]["cpu_count"] >= 1 and "cuda_count" in report["devices"]
    assert isinstance(report["devices"]["cpu_bf16"], bool)
    assert report["devices"]["native_cpu_forward"].startswith(("builds here", "off ("))
    # The forward path the engine picks per dtype, named, and the CPU features behind it.
    from scalable_ai.infer.forward_paths import PATHS

    assert report["devices"]["forward_path.bfloat16"] in PATHS
    assert report["devices"]["forward_path.float32"] == "packed-torch"
    assert "cpu_features" in report["devices"]
    assert report["locations"]["runs_dir"] == str(isolated_locations / "runs")
    assert report["locations"]["database_url"].startswith("sqlite:///")


def test_database_url_comes_from_the_environment():
    result = sai("doctor", "--json", env={"SAI_DATABASE_URL": "postgresql+psycopg://a@127.0.0.1/x"})
    assert json.loads(result.stdout)["locations"]["database_url"].startswith("postgresql+psycopg")


def test_runs_list_and_show_print_a_run_written_by_a_job():
    run_id, _ = tiny_training_job(TinyJob(steps=3), seed=42)
    listing = sai("runs", "list")
    assert (
        listing.returncode == 0 and run_id in listing.stdout and "test.tiny_job" in listing.stdout
    )
    shown = sai("runs", "show", run_id)
    assert shown.returncode == 0
    assert "seed: 42" in shown.stdout and "hidden" in shown.stdout and "git:" in shown.stdout


def test_runs_compare_shows_differing_config_fields():
    first, _ = tiny_training_job(TinyJob(steps=2, lr=0.1), seed=0)
    second, _ = tiny_training_job(TinyJob(steps=2, lr=0.2), seed=0)
    result = sai("runs", "compare", first, second)
    assert result.returncode == 0 and "config.lr" in result.stdout and "final_loss" in result.stdout
    assert "config.hidden" not in result.stdout


def test_runs_plot_writes_a_png(tmp_path):
    run_id, _ = tiny_training_job(TinyJob(steps=4), seed=0)
    out = tmp_path / "loss.png"
    result = sai("runs", "plot", run_id, "loss", "--out", str(out))
    assert result.returncode == 0 and Path(result.stdout.strip()) == out and out.stat().st_size > 0


@pytest.mark.parametrize("args", [("runs", "show", "nope"), ("runs", "plot", "nope", "loss")])
def test_user_errors_are_one_line_and_exit_code_2(args):
    result = sai(*args)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no run matches 'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def test_roofline_benchmark_writes_a_run():
    result = sai(
        "bench", "roofline", "--bandwidth-mib", "8", "--matmul-size", "128", "--repeats", "1"
    )
    assert result.returncode == 0, result.stderr
    listing = sai("runs", "list", "--command", "bench.roofline")
    assert "read_gb_s" in listing.stdout


@pytest.mark.parametrize("verb", ["runs", "doctor", "course", "model", "serve"])
def test_every_verb_help_exits_cleanly(verb):
    result = sai(verb, "--help")
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert "Usage: sai" in result.stdout


def test_a_missing_argument_is_a_usage_error_not_a_traceback():
    result = sai("runs", "show")
    assert result.returncode == 2 and "Missing argument" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_times_read_in_the_machines_zone_with_its_name(monkeypatch):
    """``sai runs`` printed the stored UTC instant bare (``2026-03-05T18:00:12``), which
    reads as local time on a Berkeley laptop."""
    import time

    from scalable_ai.runs_cli import when

    monkeypatch.setenv("TZ", "America/Los_Angeles")
    time.tzset()
    try:
        assert when("2026-03-05T18:00:12+00:00") == "2026-03-05 10:00:12 PST"
        assert when("2026-07-05T18:00:12+00:00") == "2026-07-05 11:00:12 PDT"
        assert when(None) == "-" and when("not a time") == "not a time"
    finally:
        monkeypatch.undo()
        time.tzset()
