"""``sai train``'s one typed config: model, data, optimizer and loop, with named presets.

Values come from the dataclass defaults, then a preset (``presets/<name>.toml``, shipped with
the package so a newcomer can read and copy it), then the user's TOML file, then
``--section.field value`` overrides, and the whole resolved config is saved in the run and in
every checkpoint (``train.toml``). An unknown field or a bad value is refused in one line
naming it (``scalable_ai.config``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from scalable_ai.config import load_config
from scalable_ai.errors import UserError
from scalable_ai.model.config import PRESETS as MODEL_PRESETS
from scalable_ai.model.config import ModelConfig
from scalable_ai.train.optim import OptimizerConfig

PRESET_DIR = Path(__file__).resolve().parent / "presets"


def _tiny_model() -> ModelConfig:
    return ModelConfig.from_dict(MODEL_PRESETS["tiny"].to_dict())


@dataclass
class DataSection:
    """Where the tokens come from (``sai data shard``'s output folder)."""

    shards: str = ""
    tokenizer: str = ""  # folder with tokenizer.json; empty: the one meta.json names
    seq_len: int = 256
    verify: Literal["auto", "true", "false"] = "auto"  # SHA-256 of every shard on open


@dataclass
class TrainSection:
    """The loop: steps, batch, schedule, precision, evaluation and checkpoints.

    One optimizer step sees ``world_size * batch_size * grad_accum`` sequences of
    ``data.seq_len`` tokens. ``schedule`` is ``cosine`` (linear warmup, then a cosine from
    ``lr`` to ``min_lr_ratio * lr``; GPT-3, Brown et al. 2020) or ``wsd`` (warmup, stable at
    ``lr``, then a linear decay over the last ``decay_fraction`` of the steps; MiniCPM, Hu et
    al. 2024), or ``constant`` after warmup.

    ``objective`` is ``autoregressive`` (next-token cross-entropy, causal attention) or
    ``diffusion`` (the masked diffusion NELBO of ``scalable_ai.diffusion``: the same model
    made bidirectional, with a ``[MASK]`` token; its ``val_loss`` is a bound in nats per token).
    """

    objective: Literal["autoregressive", "diffusion"] = "autoregressive"

    steps: int = 1000
    batch_size: int = 16
    grad_accum: int = 1
    grad_clip: float = 1.0  # 0 disables clipping
    schedule: Literal["cosine", "wsd", "constant"] = "cosine"
    warmup_steps: int = 50
    decay_fraction: float = 0.2
    min_lr_ratio: float = 0.1
    precision: Literal["auto", "bfloat16", "float32"] = "auto"  # autocast dtype
    compile: bool = False
    device: str = "auto"
    threads: int = 0  # torch CPU threads; 0 keeps torch's default
    seed: int = 0
    log_every: int = 10
    eval_every: int = 200
    eval_batches: int = 8
    checkpoint_every: int = 500
    keep_checkpoints: int = 2  # older step folders are removed; 0 keeps all
    sample_tokens: int = 0  # >0: a greedy sample from the final model, into the summary
    peak_tflops: float = 0.0  # MFU denominator; 0: the GPU's datasheet or a measured roofline
    progress: bool = True


@dataclass
class TrainConfig:
    model: ModelConfig = field(default_factory=_tiny_model)
    data: DataSection = field(default_factory=DataSection)
    optim: OptimizerConfig = field(default_factory=OptimizerConfig)
    train: TrainSection = field(default_factory=TrainSection)

    def validate(self) -> None:
        """Rules no single field's type can say."""
        loop = self.train
        for name in (
            "steps",
            "batch_size",
            "grad_accum",
            "log_every",
            "eval_every",
            "checkpoint_every",
        ):
            if getattr(loop, name) <= 0:
                raise UserError(
                    f"must be positive, got {getattr(loop, name)}", field=f"train.{name}"
                )
        if not 0.0 <= loop.decay_fraction <= 1.0:
            raise UserError("must be in [0, 1]", field="train.decay_fraction")
        if self.data.seq_len <= 0 or self.data.seq_len > self.model.max_seq_len:
            raise UserError(
                f"must be in [1, model.max_seq_len={self.model.max_seq_len}]", field="data.seq_len"
            )
        if not self.data.shards:
            raise UserError(
                "give the folder written by `sai data shard` (--data.shards PATH)",
                field="data.shards",
            )


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.toml"))


def load_train_config(
    path: str | Path | None = None,
    preset: str | None = None,
    overrides: list[str] | None = None,
    base: TrainConfig | None = None,
) -> TrainConfig:
    """Defaults (or ``base``), then the preset, then the TOML file, then overrides."""
    if preset is not None:
        if preset not in preset_names():
            raise UserError(
                f"unknown preset {preset!r}; known: {', '.join(preset_names())}", field="preset"
            )
        base = load_config(TrainConfig, PRESET_DIR / f"{preset}.toml", base=base)
    return load_config(TrainConfig, path, overrides, base=base)
