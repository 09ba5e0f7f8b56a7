"""What a training run is judged by besides its loss: MFU and the unigram baseline.

Model FLOPs utilization (PaLM, Chowdhery et al. 2022, Appendix B) is the FLOPs the model
needs per token (``model.flops.training_flops_per_token``: 6N plus attention) times tokens/s,
over the device's peak. The peak is stated, never guessed silently: ``train.peak_tflops``
when set; else the GPU's datasheet dense bf16/f32 number; else this CPU's matmul throughput
measured by ``roofline.measure`` (or read from the newest ``sai bench roofline`` run).

The unigram baseline is the validation cross-entropy of predicting every token by its
frequency in the training split (add-one smoothed): a model that learned nothing about
context scores this, so a trained model is judged by how far below it lands.
"""

from __future__ import annotations

import math
import socket

import numpy as np
import torch

from scalable_ai.data.loader import ShardSet

# Dense (no sparsity) tensor-core peaks from NVIDIA's datasheets, TFLOP/s: (bf16, tf32/f32).
GPU_PEAK_TFLOPS: dict[str, tuple[float, float]] = {
    "H200": (989.0, 494.5),
    "H100 SXM": (989.0, 494.5),
    "H100 80GB HBM3": (989.0, 494.5),
    "H100 PCIe": (756.0, 378.0),
    "H100": (989.0, 494.5),
    "A100": (312.0, 156.0),
    "L40S": (362.0, 183.0),
    "L4": (121.0, 60.0),
    "A10": (125.0, 62.5),
}
# Training FLOPs above this many tokens make a unigram count not worth its pass over the data.
UNIGRAM_TOKEN_LIMIT = 500_000_000


def peak_flops(device: torch.device, bf16: bool, stated_tflops: float = 0.0) -> tuple[float, str]:
    """(peak FLOP/s, where the number comes from)."""
    if stated_tflops > 0:
        return stated_tflops * 1e12, "train.peak_tflops"
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, (bf16_peak, f32_peak) in GPU_PEAK_TFLOPS.items():
            if key in name:
                return (bf16_peak if bf16 else f32_peak) * 1e12, f"datasheet: {key}"
        return 0.0, f"unknown GPU {name!r}: set train.peak_tflops"
    return _cpu_peak(bf16)


def _cpu_peak(bf16: bool) -> tuple[float, str]:
    from scalable_ai.roofline import RooflineConfig, measure
    from scalable_ai.runs import list_runs

    key = "matmul_bf16_gflop_s" if bf16 else "matmul_f32_gflop_s"
    for run in reversed(list_runs()):
        if (
            run.command == "bench.roofline"
            and key in run.summary
            and run.data.get("host", {}).get("hostname") == socket.gethostname()
        ):
            return run.summary[key] * 1e9, f"sai bench roofline run {run.id}"
    measured = measure(RooflineConfig(device="cpu", bandwidth_mib=16, matmul_size=1024, repeats=3))
    return measured[key] * 1e9, "roofline.measure (1024^3 matmul, at start)"


def unigram_loss(shards: ShardSet, targets: list[torch.Tensor]) -> float | None:
    """Cross-entropy (nats/token) of ``targets`` under the training split's unigram model."""
    if shards.num_tokens("train") > UNIGRAM_TOKEN_LIMIT:
        return None
    vocab = shards.vocab_size
    counts = np.zeros(vocab, dtype=np.float64)
    for shard in shards.splits["train"]:
        counts += np.bincount(np.asarray(shard.tokens), minlength=vocab)[:vocab]
    log_probability = np.log(counts + 1.0) - math.log(counts.sum() + vocab)
    ids = torch.cat([t.flatten().cpu() for t in targets]).numpy()
    return float(-log_probability[ids].mean())
