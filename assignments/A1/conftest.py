"""Shared fixtures of A1's visible and hidden tests: gloo worlds of forked processes, the
course's micro Transformer, a pipeline simulator and a pipeline executor.

Every distributed test runs the submission on a real ``torch.distributed`` gloo group of 4
processes (``scalable_ai.kits.world.run_world``) and compares with one process doing the
whole batch, the lab stack's own test of its parallel dimensions
(``tests/parallel/test_equivalence.py``). Each part is tested with the lab stack's pieces
around it (the lab's model, loss, pipeline stages), so a bug in one part costs that part.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import torch
import torch.distributed as dist

from scalable_ai.kits.world import WorldFailed, run_world
from scalable_ai.model import Transformer
from scalable_ai.parallel.parallelize import token_loss
from scalable_ai.parallel.pipeline import PipelineStageModel, stage_layers
from scalable_ai.parallel.run import micro_config

pytest_plugins = ["scalable_ai.kits.plugin"]

WORLD = 4
Action = tuple[str, int]


def micro_model(seed: int = 0, **overrides: object) -> Transformer:
    """The lab stack's micro Transformer (2 layers, dim 32, 4 heads, 256 tokens)."""
    torch.manual_seed(seed)
    return Transformer(micro_config(**overrides))


def batch(rows: int = 8, length: int = 8, seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Fixed random (inputs, next-token labels)."""
    generator = torch.Generator().manual_seed(seed)
    stream = torch.randint(0, 256, (rows, length + 1), generator=generator)
    return stream[:, :-1], stream[:, 1:]


def world(fn: Callable[..., object], *args: object, size: int = WORLD) -> list:
    """Run ``fn(rank, world_size, *args)`` on ``size`` gloo processes; a failure of any
    rank fails the test with that rank's error (not a traceback of the harness)."""
    try:
        return run_world(size, fn, *args, timeout_s=30)
    except WorldFailed as exc:
        pytest.fail(str(exc)[-2500:], pytrace=False)


# -- pipelines -------------------------------------------------------------------------


class PipelineDeadlock(AssertionError):
    """No stage can run its next action: each waits for one that never comes."""


@dataclass
class PipelineRun:
    """What the simulator measured: unit-time ticks to finish, and each stage's peak number
    of micro-batches whose activations it holds (forward done, backward not yet)."""

    ticks: int
    peak_in_flight: list[int] = field(default_factory=list)


def check_schedule(actions: list[Action], num_microbatches: int) -> None:
    """A stage's schedule runs each micro-batch's forward and backward exactly once."""
    expected = sorted(
        [("F", i) for i in range(num_microbatches)] + [("B", i) for i in range(num_microbatches)]
    )
    assert sorted(map(tuple, actions)) == expected, f"not every F and B exactly once: {actions}"


def simulate_pipeline(schedules: list[list[Action]]) -> PipelineRun:
    """Run stage schedules tick by tick, every action taking one tick: ``F i`` on stage s
    needs ``F i`` of stage s-1 done, ``B i`` needs ``B i`` of stage s+1 (and ``F i`` of its
    own stage) done. Raises :class:`PipelineDeadlock` when no stage can proceed."""
    stages = len(schedules)
    done: set[tuple[int, str, int]] = set()
    position = [0] * stages
    in_flight = [0] * stages
    peak = [0] * stages
    ticks = 0
    while any(position[s] < len(schedules[s]) for s in range(stages)):
        runnable = []
        for s in range(stages):
            if position[s] == len(schedules[s]):
                continue
            kind, i = schedules[s][position[s]]
            if kind == "F":
                ready = s == 0 or (s - 1, "F", i) in done
            else:
                ready = (s, "F", i) in done and (s == stages - 1 or (s + 1, "B", i) in done)
            if ready:
                runnable.append((s, kind, i))
        if not runnable:
            waiting = {
                s: schedules[s][position[s]]
                for s in range(stages)
                if position[s] < len(schedules[s])
            }
            raise PipelineDeadlock(
                f"deadlock after {ticks} ticks; next actions per stage: {waiting}"
            )
        for s, kind, i in runnable:
            done.add((s, kind, i))
            position[s] += 1
            in_flight[s] += 1 if kind == "F" else -1
            peak[s] = max(peak[s], in_flight[s])
        ticks += 1
    return PipelineRun(ticks=ticks, peak_in_flight=peak)


def run_pipeline_stage(
    rank: int, world_size: int, schedule_fn, num_microbatches: int
) -> dict[str, torch.Tensor]:
    """This rank's stage of a 4-layer micro model, run in the order ``schedule_fn`` gives,
    with activations and gradients sent between stages (``isend``/``recv``, tagged by
    micro-batch); returns the stage's parameter gradients by their names in the whole model."""
    model = micro_model(n_layers=4)
    layers = stage_layers(4, world_size, rank)
    stage = PipelineStageModel(model, layers, first=rank == 0, last=rank == world_size - 1)
    inputs, labels = batch(rows=2 * num_microbatches)
    micro_inputs, micro_labels = inputs.chunk(num_microbatches), labels.chunk(num_microbatches)
    shape = (2, inputs.shape[1], model.config.dim)
    received: dict[int, torch.Tensor] = {}
    outputs: dict[int, torch.Tensor] = {}
    sends = []
    m = num_microbatches
    for kind, i in schedule_fn(rank, world_size, num_microbatches):
        if kind == "F":
            if rank == 0:
                x = micro_inputs[i]
            else:
                x = torch.empty(shape)
                dist.recv(x, rank - 1, tag=i)
                x.requires_grad_(True)
            received[i] = x
            out = stage(x)
            if rank == world_size - 1:
                outputs[i] = token_loss(out, micro_labels[i]) / m
            else:
                outputs[i] = out
                sends.append(dist.isend(out.detach().contiguous(), rank + 1, tag=i))
        else:
            if rank == world_size - 1:
                outputs.pop(i).backward()
            else:
                grad = torch.empty(shape)
                dist.recv(grad, rank + 1, tag=m + i)
                outputs.pop(i).backward(grad)
            x = received.pop(i)
            if rank > 0:
                sends.append(dist.isend(x.grad.contiguous(), rank - 1, tag=m + i))
    for work in sends:
        work.wait()
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: p.grad.clone() for p in stage.parameters() if p.grad is not None}


def whole_model_gradients(num_microbatches: int) -> dict[str, torch.Tensor]:
    """The 4-layer micro model's gradients for the same batch in one process."""
    model = micro_model(n_layers=4)
    inputs, labels = batch(rows=2 * num_microbatches)
    token_loss(model(inputs), labels).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters()}


class Lab:
    """What the tests use: ``lab.world(fn, *args)``, ``lab.micro_model()``, ``lab.batch()``,
    ``lab.simulate_pipeline(...)``, ``lab.check_schedule(...)``..."""

    WORLD = WORLD
    world = staticmethod(world)
    micro_model = staticmethod(micro_model)
    batch = staticmethod(batch)
    token_loss = staticmethod(token_loss)
    simulate_pipeline = staticmethod(simulate_pipeline)
    check_schedule = staticmethod(check_schedule)
    run_pipeline_stage = staticmethod(run_pipeline_stage)
    whole_model_gradients = staticmethod(whole_model_gradients)
    PipelineDeadlock = PipelineDeadlock


@pytest.fixture
def lab() -> type[Lab]:
    return Lab
