"""A distributed checkpoint is a model, not a layout: saved under fsdp=2, it loads under tp=2
and into one process with the same logits."""

from __future__ import annotations

from pathlib import Path

import torch

from scalable_ai.parallel import checkpoint
from scalable_ai.parallel.mesh import build_mesh
from scalable_ai.parallel.parallelize import ParallelModel
from scalable_ai.parallel.run import RunSettings, batches, build_model, micro_config
from scalable_ai.parallel.spec import ParallelSpec
from tests.parallel.spawn import run_distributed

SETTINGS = RunSettings(steps=1, batch_size=2, seq_len=8)
PROBE = torch.arange(16).reshape(2, 8) * 7 % 256


def save_after_one_step(folder: str) -> torch.Tensor:
    spec = ParallelSpec.parse("fsdp=2")
    parallel = ParallelModel(build_model(micro_config(), seed=0), spec, build_mesh(spec))
    optimizer = torch.optim.AdamW(parallel.model.parameters(), lr=1e-2)
    for inputs, labels in batches(SETTINGS, 256):
        parallel.step(inputs, labels)
        optimizer.step()
    checkpoint.save(parallel.model, Path(folder))
    with torch.no_grad():
        return parallel.model(PROBE)


def load_under_tp(folder: str) -> torch.Tensor:
    spec = ParallelSpec.parse("tp=2")
    # another seed: whatever matches afterwards came from the checkpoint
    parallel = ParallelModel(build_model(micro_config(), seed=7), spec, build_mesh(spec))
    checkpoint.load(parallel.model, Path(folder))
    with torch.no_grad():
        return parallel.forward(PROBE)


def test_fsdp_checkpoint_loads_under_tp_and_in_one_process(tmp_path):
    folder = str(tmp_path / "step-1")
    saved_logits = run_distributed(2, save_after_one_step, folder)[0]
    tp_logits = run_distributed(2, load_under_tp, folder)
    single = build_model(micro_config(), seed=7)
    before = single(PROBE).detach()
    checkpoint.load(single, Path(folder))
    with torch.no_grad():
        single_logits = single(PROBE)
    assert not torch.allclose(before, saved_logits, atol=1e-3)  # the load changed something
    torch.testing.assert_close(single_logits, saved_logits, rtol=1e-5, atol=1e-5)
    for logits in tp_logits:
        torch.testing.assert_close(logits, saved_logits, rtol=1e-5, atol=1e-5)
