"""Run a function on N processes of this machine joined by gloo (torch.multiprocessing,
a FileStore rendezvous: no ports), and collect what each rank returns."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _worker(
    rank: int, world: int, folder: str, function: Callable[..., Any], args: tuple[Any, ...]
) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{folder}/store", rank=rank, world_size=world
    )
    try:
        result = function(*args)
        torch.save(result, Path(folder) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()


def run_distributed(world: int, function: Callable[..., Any], *args: Any) -> list[Any]:
    """``function(*args)`` on ``world`` ranks; the list of their results in rank order."""
    with tempfile.TemporaryDirectory() as folder:
        mp.start_processes(
            _worker,
            args=(world, folder, function, args),
            nprocs=world,
            join=True,
            start_method="spawn",
        )
        return [torch.load(Path(folder) / f"rank{r}.pt", weights_only=False) for r in range(world)]
