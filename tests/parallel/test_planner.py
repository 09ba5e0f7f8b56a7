"""The planner's memory estimate against measured peaks (CPU profiler memory events), and
its recommendations for the course's two reference models."""

from __future__ import annotations

import json

import pytest
import torch

from scalable_ai.model.config import PRESETS
from scalable_ai.parallel.parallelize import _checkpoint_blocks, token_loss
from scalable_ai.parallel.planner import GPUS, LLAMA31_8B, Workload, estimate, plan_both
from scalable_ai.parallel.run import build_model, micro_config
from scalable_ai.parallel.spec import ParallelSpec


def measured_step_bytes(config, batch: int, seq: int, checkpointing: bool, tmp_path) -> int:
    """Parameters, gradients and AdamW states (their tensors' sizes) plus the highest point
    the allocator reaches during one training step (profiler memory events, allocations
    minus frees in time order)."""
    model = build_model(config, 0)
    if checkpointing:
        _checkpoint_blocks(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, foreach=False)
    tokens = torch.randint(0, config.vocab_size, (batch, seq + 1))

    def step() -> None:
        optimizer.zero_grad(set_to_none=False)
        token_loss(model(tokens[:, :-1]), tokens[:, 1:]).backward()
        optimizer.step()

    step()  # gradients and optimizer states now exist
    with torch.profiler.profile(
        activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True
    ) as profile:
        step()
    trace_file = tmp_path / "trace.json"
    profile.export_chrome_trace(str(trace_file))
    events = [
        e for e in json.loads(trace_file.read_text())["traceEvents"] if e.get("name") == "[memory]"
    ]
    running = highest = 0
    for event in sorted(events, key=lambda e: e["ts"]):
        running += event["args"]["Bytes"]
        highest = max(highest, running)
    state = sum(p.numel() * p.element_size() for p in model.parameters())
    state += sum(p.grad.numel() * p.grad.element_size() for p in model.parameters())
    state += sum(
        v.numel() * v.element_size()
        for s in optimizer.state.values()
        for v in s.values()
        if torch.is_tensor(v) and v.dim() > 0
    )
    return state + highest


@pytest.mark.parametrize("checkpointing", [False, True], ids=["plain", "checkpointed"])
@pytest.mark.parametrize(("dim", "layers", "batch", "seq"), [(128, 4, 4, 128)])
def test_memory_estimate_within_20_percent_of_the_measured_peak(
    dim, layers, batch, seq, checkpointing, tmp_path
):
    config = micro_config(
        dim=dim, n_layers=layers, ffn_hidden=2 * dim, vocab_size=512, max_seq_len=512
    )
    measured = measured_step_bytes(config, batch, seq, checkpointing, tmp_path)
    work = Workload(
        batch_size=batch,
        seq_len=seq,
        compute_bytes=4,
        fused_attention=False,
        activation_checkpointing=checkpointing,
    )
    predicted = estimate(ParallelSpec(), config, work).total
    assert 0.8 <= predicted / measured <= 1.2, (predicted, measured)


def test_sharding_divides_the_states_it_shards():
    work = Workload(batch_size=8, seq_len=4096)
    single = estimate(ParallelSpec(dp=8), LLAMA31_8B, work)
    sharded = estimate(ParallelSpec(fsdp=8), LLAMA31_8B, work)
    assert sharded.optimizer == pytest.approx(single.optimizer / 8)
    assert single.optimizer == pytest.approx(8 * 8.03e9, rel=0.01)  # Adam: 8 bytes a parameter


def test_8b_on_one_h100_node_gets_a_spec_that_fits():
    work = Workload(batch_size=8, seq_len=4096)
    _pairs, best = plan_both(LLAMA31_8B, 8, "h100-80gb", work)
    assert best is not None and best.total <= 0.9 * GPUS["h100-80gb"].memory
    assert best.spec.world_size == 8


def test_smollm2_candidates_never_use_tp2():
    pairs, _ = plan_both(PRESETS["smollm2-135m"], 8, "h100-80gb", Workload(seq_len=2048))
    assert pairs and all(plain.spec.tp == 1 for plain, _ in pairs)  # 9 heads


def test_sai_plan_prints_candidates_and_a_recommendation():
    import subprocess
    import sys

    sai = [sys.executable, "-m", "scalable_ai.cli", "plan"]
    done = subprocess.run(
        [*sai, "--model", "8b", "--gpus", "8", "--gpu", "h100-80gb", "--batch-size", "8"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "fsdp=8" in done.stdout and "recommendation: --parallel " in done.stdout
    bad = subprocess.run([*sai, "--model", "70b"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.startswith("error: preset: unknown preset '70b'")
