"""One line that says how a training run is split over processes: ``dp=2,fsdp=2,tp=2``.

Six dimensions, each a way to divide the work of one step (the course's lecture 4):

- ``dp``: data parallel, whole model replicated, gradients all-reduced (DDP).
- ``fsdp``: fully sharded data parallel (ZeRO-3): parameters, gradients and optimizer
  states sharded, gathered per block for forward and backward (FSDP2 ``fully_shard``).
- ``tp``: tensor parallel (Megatron-LM, Shoeybi et al. 2019): attention heads and MLP
  columns split, with sequence parallel for the norms (Korthikanti et al. 2022).
- ``pp``: pipeline parallel (GPipe, Huang et al. 2019; 1F1B, Narayanan et al. 2021): layers
  split into stages, micro-batches flow through them.
- ``ep``: expert parallel (GShard, Lepikhin et al. 2020): each rank holds some experts of
  every MoE layer, tokens travel to their experts by all-to-all.
- ``cp``: context parallel: the sequence split over ranks, keys and values gathered for
  attention (all-gather context parallelism, Llama 3 paper, 2024).

``dp``, ``fsdp``, ``ep`` and ``cp`` all see different tokens, so gradients are averaged over
all four; ``tp`` and ``pp`` ranks see the same tokens. The product of the six is the world
size. :func:`check_spec` refuses a spec that cannot apply to a model before any process
starts, with one line that names the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from scalable_ai.errors import UserError
from scalable_ai.model.config import ModelConfig

# Mesh order, outermost first (torchtitan's order): pipeline stages talk least often, so
# they go farthest apart; tensor parallel talks every layer, so its ranks are neighbours
# (the same node, NVLink) whenever tp <= GPUs per node.
DIMENSIONS = ("pp", "dp", "fsdp", "ep", "cp", "tp")


@dataclass(frozen=True)
class ParallelSpec:
    """Degrees of each parallel dimension; 1 means that dimension is not used."""

    pp: int = 1
    dp: int = 1
    fsdp: int = 1
    ep: int = 1
    cp: int = 1
    tp: int = 1

    def __post_init__(self) -> None:
        for name in DIMENSIONS:
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise UserError(
                    f"{name} must be a positive integer, got {value!r}", field="parallel"
                )

    @classmethod
    def parse(cls, text: str) -> ParallelSpec:
        """``"dp=2,tp=2"`` (or ``"single"``/``""`` for one process) into a spec."""
        text = text.strip()
        if text in ("", "single", "none"):
            return cls()
        degrees: dict[str, int] = {}
        for part in text.split(","):
            name, sep, value = part.strip().partition("=")
            name = name.strip()
            if not sep or name not in DIMENSIONS:
                raise UserError(
                    f"{part.strip()!r} is not DIM=N with DIM one of {', '.join(DIMENSIONS)}",
                    field="parallel",
                )
            if name in degrees:
                raise UserError(f"{name} is given twice", field="parallel")
            try:
                degrees[name] = int(value)
            except ValueError:
                raise UserError(
                    f"{name}={value.strip()!r} is not an integer", field="parallel"
                ) from None
        return cls(**degrees)

    def __str__(self) -> str:
        used = [f"{name}={getattr(self, name)}" for name in DIMENSIONS if getattr(self, name) > 1]
        return ",".join(used) or "single"

    @property
    def world_size(self) -> int:
        """Processes this spec needs: the product of every degree."""
        size = 1
        for name in DIMENSIONS:
            size *= getattr(self, name)
        return size

    @property
    def data_shards(self) -> int:
        """How many ways the batch's sequences are split (dp x fsdp x ep)."""
        return self.dp * self.fsdp * self.ep

    @property
    def gradient_average(self) -> int:
        """Ranks whose gradients are averaged: every rank that saw other tokens."""
        return self.dp * self.fsdp * self.ep * self.cp

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def check_spec(
    spec: ParallelSpec,
    config: ModelConfig,
    *,
    world_size: int | None = None,
    batch_size: int | None = None,
    seq_len: int | None = None,
    microbatches: int | None = None,
) -> None:
    """Raise :class:`UserError` (one line, the reason) when ``spec`` cannot split ``config``.

    Checked before any process starts: the world size, head and hidden counts that tensor
    parallel must divide, layers per pipeline stage, experts per expert-parallel rank, and
    the batch and sequence splits.
    """
    name = config.name or "this model"
    if world_size is not None and spec.world_size != world_size:
        raise UserError(
            f"{spec} needs {spec.world_size} processes (the product of its "
            f"degrees), but the world size is {world_size}",
            field="parallel",
        )
    if spec.tp > 1:
        for what, count in (
            ("query heads", config.n_heads),
            ("KV heads", config.n_kv_heads),
            ("MLP hidden units (ffn_hidden)", config.ffn_hidden),
            ("vocabulary entries", config.vocab_size),
        ):
            if count % spec.tp:
                raise UserError(
                    f"tp={spec.tp} cannot split {name}'s {count} {what} evenly", field="parallel"
                )
    if spec.pp > 1:
        if spec.pp > config.n_layers:
            raise UserError(
                f"pp={spec.pp} is more stages than {name}'s {config.n_layers} layers",
                field="parallel",
            )
        if config.tie_embeddings:
            raise UserError(
                f"pp={spec.pp} needs untied embeddings: {name} shares its input "
                "embedding with the output head, which would sit on the first and "
                "last stage at once",
                field="parallel",
            )
    if spec.ep > 1:
        if not config.n_experts:
            raise UserError(
                f"ep={spec.ep} needs a Mixture-of-Experts model; {name} is dense", field="parallel"
            )
        if config.n_experts % spec.ep:
            raise UserError(
                f"ep={spec.ep} cannot split {name}'s {config.n_experts} experts evenly",
                field="parallel",
            )
        if spec.dp * spec.fsdp * spec.cp > 1:
            raise UserError(
                "ep combines with pp here; with dp, fsdp or cp the experts "
                "would need a second sharding, which is not built",
                field="parallel",
            )
    if spec.tp > 1 and config.n_experts:
        raise UserError(
            f"tp={spec.tp} splits attention and dense MLPs only; split "
            f"{name}'s experts with ep instead",
            field="parallel",
        )
    if batch_size is not None and batch_size % spec.data_shards:
        raise UserError(
            f"batch size {batch_size} does not split over dp x fsdp x ep = "
            f"{spec.data_shards} ranks",
            field="parallel",
        )
    if seq_len is not None:
        if spec.cp > 1 and seq_len % (2 * spec.cp):
            raise UserError(
                f"cp={spec.cp} needs the sequence length ({seq_len}) to be a "
                f"multiple of 2 x cp = {2 * spec.cp} (load-balanced chunks)",
                field="parallel",
            )
        if spec.tp > 1 and (seq_len // spec.cp) % spec.tp:
            raise UserError(
                f"tp={spec.tp} with sequence parallel needs each rank's sequence "
                f"({seq_len // spec.cp}) to be a multiple of tp",
                field="parallel",
            )
    if spec.pp > 1 and batch_size is not None and microbatches is not None:
        local = batch_size // spec.data_shards
        if microbatches < spec.pp or local % microbatches:
            raise UserError(
                f"pp={spec.pp} needs at least {spec.pp} micro-batches that divide "
                f"each rank's batch of {local}; got {microbatches}",
                field="parallel",
            )
