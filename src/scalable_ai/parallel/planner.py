"""How much memory each GPU needs and how many bytes each one moves per step, for every way
of splitting a model over N GPUs; then a recommendation. The formulas (``docs/parallelism.md``
derives them) follow the code in this package, so the estimate can be checked against
measured peaks.

Per GPU, with ``P`` the parameters its stage and tensor shard hold (``P_stage / tp``, experts
further ``/ ep``) and ``S`` the FSDP shard count (``fsdp x ep x cp`` when FSDP is on):

- parameters ``4P / S`` (f32 master), gradients ``4P / S``, AdamW states ``8P / S``
  (ZeRO-3, Rajbhandari et al. 2020); plus, under FSDP, one gathered block in the compute
  dtype (two with prefetch);
- activations per layer of ``n = b s`` local tokens (Korthikanti et al. 2022, adapted to
  GQA and SwiGLU), in the compute dtype: the residual stream and norm inputs ``2nd / tp_sp``,
  the two norm outputs ``2nd``, q, k, v before and after RoPE ``2n(Hq + 2Hkv)D / tp``, the
  attention output ``nHqD / tp``, SwiGLU's four hidden tensors ``4nF / tp`` (times ``k``
  for MoE), and without a fused attention kernel (the CPU) the ``b Hq s^2 / tp`` scores. Activation checkpointing keeps only each block's input, plus one block's worth
  during its recompute. The head's logits take ``4 n V`` twice (f32 for the loss). A
  pipeline stage holds ``min(pp, m) / m`` of its batch's activations under 1F1B, all of it
  under GPipe;
- communication, bytes sent per GPU per step with ring collectives (``2(N-1)/N`` of a
  buffer for all-reduce, ``(N-1)/N`` for all-gather or reduce-scatter): DDP all-reduces the
  gradients, FSDP all-gathers parameters twice and reduce-scatters gradients once, TP
  moves ``n d`` four times per layer forward and backward, PP sends one ``n d`` activation
  and gradient per micro-batch and stage boundary, EP two all-to-alls of ``k n d`` per MoE
  layer each way, CP an all-gather of keys and values per layer and their reduce-scatter.

Recommendation: among specs whose estimate fits in 90% of the GPU's memory, the one with the
shortest estimated step: compute (``6 x active parameters x tokens`` at 40% of peak)
stretched by the pipeline bubble ``(pp - 1) / (m + pp - 1)``, plus the communication that
cannot overlap it (tensor, context, expert and pipeline traffic at NVLink speed, or the
network's across nodes; data-parallel traffic only beyond the compute time). Tensor and
context parallel stay inside a node whenever their degree allows, as the mesh order places
them.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass

from scalable_ai.errors import UserError
from scalable_ai.model.config import ModelConfig, preset
from scalable_ai.parallel.spec import DIMENSIONS, ParallelSpec, check_spec

GIB = 1024**3


@dataclass(frozen=True)
class Accelerator:
    """Datasheet figures: memory, dense bf16 FLOP/s, per-GPU bandwidth in and across nodes."""

    memory: float
    flops: float
    intra_node: float  # bytes/s, one direction (NVLink)
    inter_node: float  # bytes/s per GPU across nodes (its share of the node's network)


GPUS = {
    "h100-80gb": Accelerator(80e9, 989e12, 450e9, 25e9),
    "h200-141gb": Accelerator(141e9, 989e12, 450e9, 25e9),
    "a100-80gb": Accelerator(80e9, 312e12, 300e9, 12.5e9),
    "a100-40gb": Accelerator(40e9, 312e12, 300e9, 12.5e9),
    "cpu": Accelerator(24 * GIB, 0.19e12, 40e9, 1e9),
}
MFU = 0.4  # the share of peak a well-tuned step reaches (torchtitan reports 33-39% at 8B)

LLAMA31_8B = ModelConfig(
    vocab_size=128256,
    dim=4096,
    n_layers=32,
    n_heads=32,
    n_kv_heads=8,
    ffn_hidden=14336,
    norm_eps=1e-5,
    max_seq_len=131072,
    tie_embeddings=False,
    rope_theta=500000.0,
    name="8b",
)


def planner_model(name: str) -> ModelConfig:
    """``8b`` (Llama 3.1 8B's shape), a preset name, or a TOML/JSON config file."""
    if name == "8b":
        return LLAMA31_8B
    if name.endswith((".toml", ".json")):
        from pathlib import Path

        return ModelConfig.load(Path(name))
    return preset(name)


@dataclass(frozen=True)
class Workload:
    """One step: global batch of sequences, their length, micro-batches, dtype, checkpointing."""

    batch_size: int = 32
    seq_len: int = 4096
    microbatches: int = 8
    compute_bytes: int = 2  # bf16
    activation_checkpointing: bool = False
    fused_attention: bool = True  # flash/efficient SDPA keeps no T x T scores (GPU)
    schedule: str = "1f1b"


@dataclass(frozen=True)
class Estimate:
    """Bytes per GPU (the most loaded one) and bytes it sends per step."""

    spec: ParallelSpec
    parameters: float
    gradients: float
    optimizer: float
    gathered: float
    activations: float
    communication: float
    cross_node: float
    overlapped: float  # DDP/FSDP bytes, which run under backward's compute
    bubble: float  # idle share of a pipeline step

    def step_seconds(self, gpu: Accelerator, flops_per_gpu: float) -> float:
        """Compute at ``MFU`` of peak, stretched by the pipeline bubble, plus the
        communication that cannot hide behind it (data-parallel traffic beyond the compute
        time; all tensor, context, expert and pipeline traffic)."""
        compute = flops_per_gpu / (gpu.flops * MFU)
        critical = self.communication - self.overlapped
        cross_critical = min(self.cross_node, critical)
        exposed = (critical - cross_critical) / gpu.intra_node + cross_critical / gpu.inter_node
        data = self.overlapped / (gpu.inter_node if self.cross_node > critical else gpu.intra_node)
        return compute / (1 - self.bubble) + exposed + max(0.0, data - compute)

    @property
    def total(self) -> float:
        return self.parameters + self.gradients + self.optimizer + self.gathered + self.activations


def parameter_counts(config: ModelConfig) -> tuple[float, float, float, float]:
    """(embedding, head, one block's dense matrices + norms, one block's experts)."""
    d, heads, kv, head_dim = config.dim, config.n_heads, config.n_kv_heads, config.head_size
    attention = d * heads * head_dim * 2 + d * kv * head_dim * 2
    if config.n_experts:
        experts = config.n_experts * 3 * d * config.ffn_hidden
        dense = attention + d * config.n_experts + 2 * d
    else:
        experts = 0
        dense = attention + 3 * d * config.ffn_hidden + 2 * d
    embed = config.vocab_size * d
    head = 0 if config.tie_embeddings else config.vocab_size * d
    return embed, head + d, dense, experts


def _ring(n: int, all_reduce: bool = False) -> float:
    return (2.0 if all_reduce else 1.0) * (n - 1) / n if n > 1 else 0.0


def estimate(
    spec: ParallelSpec, config: ModelConfig, work: Workload, gpus_per_node: int = 8
) -> Estimate:
    """Memory and communication of the most loaded rank (the first pipeline stage, which
    also holds the embedding and under 1F1B the most micro-batches in flight)."""
    embed, head, block, experts = parameter_counts(config)
    tp, pp, ep, cp = spec.tp, spec.pp, spec.ep, spec.cp
    layers = -(-config.n_layers // pp)
    first_stage = embed + (head if pp == 1 else 0)
    params = first_stage / tp + layers * (block / tp + experts / ep)
    uses_fsdp = spec.fsdp * spec.ep * spec.cp > 1 or (spec.dp > 1 and (tp > 1 or pp > 1))
    shards = spec.fsdp * spec.ep * spec.cp if uses_fsdp else 1
    expert_part = layers * experts / ep
    sharded = (params - expert_part) / shards + expert_part  # experts are not FSDP-sharded
    gathered = 2 * (block / tp + experts / ep) * work.compute_bytes if uses_fsdp else 0.0

    a = work.compute_bytes
    b = work.batch_size // spec.data_shards
    s = work.seq_len // cp
    n = b * s
    d, heads, kv, head_dim = config.dim, config.n_heads, config.n_kv_heads, config.head_size
    top_k = config.experts_per_token if config.n_experts else 1
    sp = tp  # our plans shard the residual stream and norms' inputs (sequence parallel)
    per_layer = (
        a
        * n
        * (
            2 * d / sp
            + 2 * d
            + 2 * (heads + 2 * kv) * head_dim / tp
            + heads * head_dim / tp
            + 4 * top_k * config.ffn_hidden / tp
        )
    )
    if not work.fused_attention:
        per_layer += a * b * heads / tp * s * (s * cp)
    if work.activation_checkpointing:
        stored = layers * a * n * d / sp + per_layer
    else:
        stored = layers * per_layer
    in_flight, bubble = 1.0, 0.0
    if pp > 1:
        bubble = (pp - 1) / (work.microbatches + pp - 1)
        m = work.microbatches
        in_flight = (min(pp, m) / m) if work.schedule == "1f1b" else 1.0
    logits = 2 * 4 * n * config.vocab_size / tp if pp == 1 else 0.0
    activations = stored * in_flight + logits

    comm = {
        "dp": (_ring(spec.dp, all_reduce=True) * sharded * 4) if not uses_fsdp else 0.0,
        "fsdp": (
            2 * _ring(shards) * (params - expert_part) * a
            + _ring(shards) * (params - expert_part) * 4
            + _ring(spec.dp, True) * sharded * 4
        )
        if uses_fsdp
        else 0.0,
        "tp": 4 * 2 * _ring(tp) * layers * n * d * a,
        "pp": 2 * n * d * a if pp > 1 else 0.0,
        "ep": 4 * _ring(ep) * layers * top_k * n * d * a,
        "cp": 2 * _ring(cp) * layers * cp * n * 2 * kv * head_dim * a,
    }
    # The mesh is pp, dp, fsdp, ep, cp, tp outermost first: a dimension crosses nodes when
    # the product of it and everything inside it exceeds one node's GPUs.
    inner, cross = 1, 0.0
    for name in reversed(DIMENSIONS):
        degree = getattr(spec, name)
        inner *= degree
        key = "fsdp" if name in ("fsdp",) and uses_fsdp else name
        if inner > gpus_per_node and degree > 1:
            cross += comm.get(key, 0.0)
    return Estimate(
        spec,
        parameters=sharded * 4,
        gradients=sharded * 4,
        optimizer=sharded * 8,
        gathered=gathered,
        activations=activations,
        communication=sum(comm.values()),
        cross_node=cross,
        overlapped=comm["dp"] + comm["fsdp"],
        bubble=bubble,
    )


def step_flops(config: ModelConfig, work: Workload) -> float:
    """6 x active parameters x tokens (forward 2, backward 4; Kaplan et al. 2020)."""
    _embed, head, block, experts = parameter_counts(config)
    active = (
        config.n_layers * (block + experts * config.experts_per_token / max(1, config.n_experts))
        + head
    )
    return 6 * active * work.batch_size * work.seq_len


def candidate_specs(gpus: int, config: ModelConfig, work: Workload) -> list[ParallelSpec]:
    """Every spec over ``gpus`` that ``check_spec`` accepts for this model and workload."""
    divisors = [k for k in range(1, gpus + 1) if gpus % k == 0]
    specs = []
    for degrees in itertools.product(divisors, repeat=len(DIMENSIONS)):
        spec_size = 1
        for degree in degrees:
            spec_size *= degree
        if spec_size != gpus:
            continue
        spec = ParallelSpec(**dict(zip(DIMENSIONS, degrees, strict=True)))
        if spec.dp > 1 and spec.fsdp * spec.ep * spec.cp == 1 and (spec.tp > 1 or spec.pp > 1):
            continue  # the same run as fsdp in place of dp with nothing sharded: listed once
        try:
            check_spec(
                spec,
                config,
                world_size=gpus,
                batch_size=work.batch_size,
                seq_len=work.seq_len,
                microbatches=work.microbatches,
            )
        except UserError:
            continue
        specs.append(spec)
    return specs


def plan(
    config: ModelConfig, gpus: int, gpu: str, work: Workload, gpus_per_node: int = 8
) -> tuple[list[Estimate], Estimate | None]:
    """Estimates for every candidate (fewest bytes moved first) and the recommendation."""
    if gpu not in GPUS:
        raise UserError(f"unknown GPU {gpu!r}; known: {', '.join(GPUS)}", field="gpu")
    estimates = [
        estimate(s, config, work, gpus_per_node) for s in candidate_specs(gpus, config, work)
    ]
    if not estimates:
        raise UserError(
            f"no spec splits {config.name or 'this model'} over {gpus} GPUs with "
            f"batch {work.batch_size} x {work.seq_len}",
            field="gpus",
        )
    accelerator, flops = GPUS[gpu], step_flops(config, work) / gpus
    estimates.sort(key=lambda e: e.step_seconds(accelerator, flops))
    fits = [e for e in estimates if e.total <= 0.9 * accelerator.memory]
    return estimates, (fits[0] if fits else None)


def plan_both(
    config: ModelConfig, gpus: int, gpu: str, work: Workload, gpus_per_node: int = 8
) -> tuple[list[tuple[Estimate, Estimate]], Estimate | None]:
    """Each candidate without and with activation checkpointing, and the recommendation:
    the fastest that fits, checkpointing only where nothing fits without it (recomputing
    the forward costs about a third more compute)."""
    plain, best = plan(config, gpus, gpu, work, gpus_per_node)
    checkpointed = {
        e.spec: e
        for e in plan(
            config,
            gpus,
            gpu,
            dataclasses.replace(work, activation_checkpointing=True),
            gpus_per_node,
        )[0]
    }
    pairs = [(e, checkpointed[e.spec]) for e in plain]
    if best is None:
        accelerator, flops = GPUS[gpu], step_flops(config, work) / gpus * 8 / 6
        fits = [c for _, c in pairs if c.total <= 0.9 * accelerator.memory]
        best = min(fits, key=lambda e: e.step_seconds(accelerator, flops)) if fits else None
    return pairs, best
