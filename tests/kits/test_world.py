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
