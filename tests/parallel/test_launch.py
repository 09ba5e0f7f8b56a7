"""``sai launch``: a course reservation's hostfile becomes one torchrun per node."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from scalable_ai.course.clock import BERKELEY
from scalable_ai.course.policy.nodes import Node, Reservation, reservation_plan
from scalable_ai.errors import UserError
from scalable_ai.parallel.launch import Host, check_reachable, parse_hostfile, plan_launch
from scalable_ai.parallel.spec import ParallelSpec

SAI = str(Path(sys.executable).with_name("sai"))


def reservation_hostfile(tmp_path: Path, ips: tuple[str, str]) -> Path:
    """The hostfile the platform issues for an active two-node reservation."""
    nodes = [Node("node-1", ips[0]), Node("node-2", ips[1])]
    start = datetime(2026, 4, 1, 9, 0, tzinfo=BERKELEY)
    reservation = Reservation(
        "r1",
        ("node-1", "node-2"),
        {"node-1": "g1", "node-2": "g2"},
        start,
        start + timedelta(hours=4),
        frozenset({"g1", "g2"}),
    )
    plan = reservation_plan(reservation, nodes, now=start + timedelta(minutes=5))
    path = tmp_path / "hostfile"
    path.write_text(plan.hostfile)
    return path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_two_node_training_from_a_reservation_hostfile(tmp_path):
    """Two "nodes" on 127.0.0.1 meet at a c10d rendezvous and train data-parallel."""
    hostfile = reservation_hostfile(tmp_path, ("127.0.0.1", "127.0.0.1"))
    assert hostfile.read_text() == "127.0.0.1 slots=8\n127.0.0.1 slots=8\n"
    out = tmp_path / "result.json"
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
            "dp=2",
            "--",
            sys.executable,
            "-m",
            "scalable_ai.parallel.run",
            "--steps",
            "2",
            "--out",
            str(out),
        ],
        env={**os.environ, "SAI_RUNS_DIR": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("torch.distributed.run --nnodes 2 --nproc-per-node 1") == 2
    result = json.loads(out.read_text())
    assert result["world_size"] == 2 and result["nodes"] == 2 and result["spec"] == "dp=2"
    assert len(result["losses"]) == 2
    (run,) = (tmp_path / "runs").iterdir()  # rank 0 records one run for both nodes
    assert run.name == result["run"]
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 2


def test_dry_run_prints_ssh_for_remote_nodes(tmp_path):
    hostfile = reservation_hostfile(tmp_path, ("203.0.113.11", "203.0.113.12"))
    done = subprocess.run(
        [SAI, "launch", "--hostfile", str(hostfile), "--dry-run", "--", "sai", "train"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("ssh -o BatchMode=yes 203.0.113.1") == 2
    assert "--rdzv-endpoint 203.0.113.11:29400" in done.stdout
    assert "--nproc-per-node 8" in done.stdout


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("10.0.0.1", "expected 'IP slots=N'"),
        ("node-1 slots=8", "not an IP address"),
        ("10.0.0.1 slots=zero", "positive integer"),
        ("10.0.0.1 gpus=8", "expected"),
    ],
)
def test_bad_hostfile_line_is_named_with_its_line_number(tmp_path, line, reason):
    path = tmp_path / "hostfile"
    path.write_text(f"# reservation 7\n10.0.0.2 slots=8\n{line}\n")
    with pytest.raises(UserError, match=reason) as caught:
        parse_hostfile(path)
    assert f"{path}:3" in str(caught.value)


def test_bad_hostfile_is_one_line_from_the_cli_before_anything_runs(tmp_path):
    path = tmp_path / "hostfile"
    path.write_text("10.0.0.1 slots=8\nnot-an-ip slots=8\n")
    done = subprocess.run(
        [SAI, "launch", "--hostfile", str(path), "--", "true"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and "not an IP address" in done.stderr


def test_unreachable_host_is_refused_before_training():
    """192.0.2.0/24 is TEST-NET-1: no host answers there."""
    hosts = [Host("127.0.0.1", 1), Host("192.0.2.1", 1)]
    with pytest.raises(UserError, match=r"192\.0\.2\.1"):
        check_reachable(hosts, free_port(), timeout_s=2)


def test_spec_must_fit_the_hostfile():
    with pytest.raises(UserError, match="needs 8 processes"):
        plan_launch([Host("127.0.0.1", 2)], ["true"], spec=ParallelSpec(fsdp=8))
