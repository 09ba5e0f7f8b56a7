"""One configuration for every architecture in the course's model family.

A Llama-style decoder (RMSNorm, RoPE, grouped-query attention, SwiGLU) is the base; three
switches turn it into the variants the Architecture part of the syllabus covers:
``n_experts > 0`` makes every feed-forward a Mixture of Experts (Shazeer et al. 2017,
Switch Transformer 2021), ``sliding_window`` limits each query to the last ``W`` keys
(Longformer 2020, Mistral 7B 2023), and ``rope_scaling`` stretches RoPE beyond the trained
context (linear position interpolation, Chen et al. 2023; Llama 3's frequency-dependent
scaling). The config is flat so that one TOML or JSON file, or one CLI flag per field,
describes a model whole.

Three more switches come from the pre-training recipes of Part 2 (modded-nanogpt's speedruns,
Nemotron/Nano-V3), each off by default (off is exactly the Llama block): ``qk_norm`` RMS-
normalizes each head's queries and keys before RoPE (Dehghani et al. 2023, OLMo 2, Qwen3),
which bounds the attention logits and lets higher learning rates train stably;
``mlp_activation = "relu2"`` swaps SwiGLU for the ungated ``down(relu(up(x))^2)``
(So et al. 2021, "Primer"; Nemotron-4, modded-nanogpt); ``logit_softcap`` squashes the output
logits into (-cap, cap) with ``cap * tanh(logits / cap)`` (Gemma 2, modded-nanogpt).
``tie_embeddings = False`` (an untied head) is the fourth.

``causal = False`` makes every attention layer bidirectional (no causal mask): the same blocks
then form the denoiser of a masked diffusion language model (``scalable_ai.diffusion``; MDLM,
Sahoo et al. 2024; LLaDA, Nie et al. 2025), whose absorbing ``[MASK]`` state is the token id
``mask_token_id``.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from scalable_ai.errors import UserError

ROPE_SCALINGS = ("none", "linear", "llama3")
MLP_ACTIVATIONS = ("swiglu", "relu2")


@dataclass
class ModelConfig:
    """Sizes and switches of one decoder-only transformer.

    ``rope_interleaved`` picks which pairs of a head's dimensions RoPE rotates together:
    ``False`` rotates dimension ``i`` with ``i + head_dim/2`` (the Hugging Face / GPT-NeoX
    layout our checkpoints use), ``True`` rotates ``2i`` with ``2i+1`` (the original RoFormer
    and GGUF layout). The two are the same model up to a fixed permutation of the query and
    key rows; ``load/gguf.py`` undoes llama.cpp's permutation so ours are always ``False``.
    """

    vocab_size: int = 49152
    dim: int = 576
    n_layers: int = 30
    n_heads: int = 9
    n_kv_heads: int = 3
    head_dim: int = 0  # 0 means dim // n_heads
    ffn_hidden: int = 1536
    norm_eps: float = 1e-5
    max_seq_len: int = 8192
    tie_embeddings: bool = True
    # RoPE (Su et al. 2021): theta is the base of the geometric frequency ladder.
    rope_theta: float = 10000.0
    rope_interleaved: bool = False
    rope_scaling: str = "none"
    rope_scaling_factor: float = 1.0
    rope_low_freq_factor: float = 1.0
    rope_high_freq_factor: float = 4.0
    rope_original_max_seq_len: int = 8192
    # Sliding-window attention: 0 means full causal attention.
    sliding_window: int = 0
    # Mixture of Experts: 0 experts means a dense SwiGLU feed-forward.
    n_experts: int = 0
    experts_per_token: int = 2
    expert_capacity_factor: float = 0.0  # 0 means no capacity limit (no token is dropped)
    moe_aux_loss_weight: float = 0.01
    init_std: float = 0.02
    # Pre-training recipe switches (module docstring); the defaults are the Llama block.
    qk_norm: bool = False
    mlp_activation: str = "swiglu"
    logit_softcap: float = 0.0  # 0 means off
    # Masked diffusion (module docstring): bidirectional attention and the [MASK] token's id.
    causal: bool = True
    mask_token_id: int = -1  # -1: no mask token (an autoregressive model)
    name: str = field(default="")

    def __post_init__(self) -> None:
        self.validate()

    @property
    def head_size(self) -> int:
        """Dimensions per attention head."""
        return self.head_dim or self.dim // self.n_heads

    def validate(self) -> None:
        """Raise :class:`UserError` naming the first field that makes no model."""
        positive = ("vocab_size", "dim", "n_layers", "n_heads", "n_kv_heads", "ffn_hidden")
        for name in positive:
            if getattr(self, name) <= 0:
                raise UserError(f"must be positive, got {getattr(self, name)}", field=name)
        if self.n_heads % self.n_kv_heads:
            raise UserError(
                f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({self.n_kv_heads})"
                " for grouped-query attention",
                field="n_kv_heads",
            )
        if not self.head_dim and self.dim % self.n_heads:
            raise UserError(f"dim ({self.dim}) is not divisible by n_heads", field="head_dim")
        if self.head_size % 2:
            raise UserError("RoPE needs an even head size", field="head_dim")
        if self.rope_scaling not in ROPE_SCALINGS:
            raise UserError(f"must be one of {ROPE_SCALINGS}", field="rope_scaling")
        if self.sliding_window < 0:
            raise UserError("must be 0 (off) or a positive window", field="sliding_window")
        if self.n_experts < 0 or (
            self.n_experts and not 0 < self.experts_per_token <= self.n_experts
        ):
            raise UserError("need 0 < experts_per_token <= n_experts", field="experts_per_token")
        if self.mlp_activation not in MLP_ACTIVATIONS:
            raise UserError(f"must be one of {MLP_ACTIVATIONS}", field="mlp_activation")
        if self.mlp_activation != "swiglu" and self.n_experts:
            raise UserError("experts are SwiGLU; relu2 is for dense layers", field="mlp_activation")
        if self.logit_softcap < 0:
            raise UserError("must be 0 (off) or a positive cap", field="logit_softcap")
        if not -1 <= self.mask_token_id < self.vocab_size:
            raise UserError(
                f"must be -1 (none) or a token id below vocab_size={self.vocab_size}",
                field="mask_token_id",
            )
        if not self.causal and self.sliding_window:
            raise UserError(
                "a sliding window is causal; a bidirectional model attends to every token",
                field="sliding_window",
            )

    def recipe_switches(self) -> list[str]:
        """The pre-training recipe switches this model turns on that change its computation
        (QK-norm, ReLU², soft-capping; an untied head only changes which matrix is read).
        Inference paths that hard-code the Llama block run a model only when this is empty.
        """
        switches = []
        if self.qk_norm:
            switches.append("qk_norm")
        if self.mlp_activation != "swiglu":
            switches.append(f"mlp_activation={self.mlp_activation}")
        if self.logit_softcap:
            switches.append(f"logit_softcap={self.logit_softcap:g}")
        if not self.causal:
            switches.append("bidirectional")
        return switches

    # ---- round trips -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UserError(f"unknown model config fields: {', '.join(unknown)}", field=unknown[0])
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelConfig:
        return cls.from_dict(json.loads(text))

    def to_toml(self) -> str:
        """Flat ``key = value`` lines; every field is a scalar, so no TOML library is needed."""
        lines = []
        for key, value in self.to_dict().items():
            lines.append(f"{key} = {_toml_scalar(value)}")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_toml(cls, text: str) -> ModelConfig:
        data = tomllib.loads(text)
        # A TOML file may nest the fields under [model] so it can share a file with others.
        return cls.from_dict(data.get("model", data))

    def save(self, path: Path) -> None:
        path = Path(path)
        path.write_text(self.to_toml() if path.suffix == ".toml" else self.to_json())

    @classmethod
    def load(cls, path: Path) -> ModelConfig:
        path = Path(path)
        if not path.exists():
            raise UserError(f"no such file: {path}", field="config")
        text = path.read_text()
        return cls.from_toml(text) if path.suffix == ".toml" else cls.from_json(text)


def _toml_scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))  # a JSON string is a valid TOML basic string


SMOLLM2_135M = ModelConfig(
    vocab_size=49152,
    dim=576,
    n_layers=30,
    n_heads=9,
    n_kv_heads=3,
    ffn_hidden=1536,
    norm_eps=1e-5,
    max_seq_len=8192,
    tie_embeddings=True,
    rope_theta=100000.0,
    name="smollm2-135m",
)

# Named sizes to start from (override any field). "tiny" trains in minutes on a laptop CPU;
# the MoE and sliding-window flavours differ from it in exactly the switch they name.
_TINY = dict(
    vocab_size=8192,
    dim=256,
    n_layers=4,
    n_heads=4,
    n_kv_heads=2,
    ffn_hidden=688,
    max_seq_len=1024,
    rope_theta=10000.0,
)
PRESETS: dict[str, ModelConfig] = {
    "tiny": ModelConfig(**_TINY, name="tiny"),  # type: ignore[arg-type]
    "tiny-moe": ModelConfig(
        **_TINY,
        n_experts=8,
        experts_per_token=2,  # type: ignore[arg-type]
        expert_capacity_factor=1.25,
        name="tiny-moe",
    ),
    "tiny-swa": ModelConfig(**_TINY, sliding_window=128, name="tiny-swa"),  # type: ignore[arg-type]
    "smollm2-135m": SMOLLM2_135M,
}


def preset(name: str, **overrides: object) -> ModelConfig:
    """A copy of a named preset with some fields changed."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}", field="preset")
    return ModelConfig.from_dict({**PRESETS[name].to_dict(), **overrides})
