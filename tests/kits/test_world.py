"""``run_world``: a gloo world of forked processes for kit tests; failures and hangs are
reported with the rank that caused them, and nothing is left running."""

from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist

from scalable_ai.kits.world import WorldFailed, run_world


def _sum_of_ranks(rank: int, world_size: int, offset: float) -> torch.Tensor:
    tensor = torch.full((3,), float(rank)) + offset
    dist.all_reduce(tensor)
    return tensor


def test_every_rank_runs_the_function_in_one_gloo_group():
    results = run_world(4, _sum_of_ranks, 1.0)
    assert [t.tolist() for t in results] == [[10.0, 10.0, 10.0]] * 4


def test_a_failing_rank_is_named_with_its_error_not_the_others_lost_connections():
    def fails_on_rank_1(rank, world_size):
        if rank == 1:
            raise ValueError("rank 1 broke")
        dist.all_reduce(torch.ones(2))

    with pytest.raises(WorldFailed, match="rank 1: ValueError: rank 1 broke"):
        run_world(3, fails_on_rank_1)


def test_a_hung_world_is_stopped_and_its_processes_killed():
    def waits_forever(rank, world_size):
        if rank == 0:
            dist.recv(torch.empty(1), src=1, tag=7)  # rank 1 never sends
        else:
            import time

            time.sleep(60)

    before = set(_children())  # a server another test of this worker started may be running
    with pytest.raises(WorldFailed, match=r"did not finish within 2 s"):
        run_world(2, waits_forever, timeout_s=2)
    assert set(_children()) <= before, "a rank of the stopped world is still running"


def _children() -> list[int]:
    """Processes whose parent is this one (read from /proc)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == os.getpid():
            found.append(int(entry))
    return found


def _uneven_ring(rank: int, world_size: int, seed: int) -> float:
    """A ring pass where ranks run at different speeds: rank 0 is done first and would leave
    while its neighbours still receive (as a busy machine makes some ranks late)."""
    import random
    import time

    tensor, received = torch.full((4096,), float(rank)), torch.empty(4096)
    outgoing = dist.isend(tensor, (rank + 1) % world_size)
    time.sleep(random.Random(seed * 10 + rank).random() * 0.05 * rank)
    dist.recv(received, (rank - 1) % world_size)
    outgoing.wait()
    return float(received[0])


TWO_WORLDS = """
import sys
from scalable_ai.kits.world import run_world
from tests.kits.test_world import _uneven_ring
for seed in range(int(sys.argv[1])):
    assert run_world(4, _uneven_ring, seed, timeout_s=60) == [3.0, 0.0, 1.0, 2.0]
print("ok")
"""


def test_two_worlds_at_once_each_finish_on_their_own_rendezvous():
    """Two kit gradings at once run two gloo worlds at once (issue 13's fresh-clone run lost
    an A1 point to "Connection closed by peer"): each world has its own store folder and its
    own ports, and no rank leaves before the others are done."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", TWO_WORLDS, "6"],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONPATH": str(root), "OMP_NUM_THREADS": "1"},
        )
        for _ in range(2)
    ]
    outputs = [run.communicate(timeout=300)[0] for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    assert [out.strip().splitlines()[-1] for out in outputs] == ["ok", "ok"]
