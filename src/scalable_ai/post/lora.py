"""LoRA on our model through Hugging Face ``peft`` (Hu et al. 2021, "LoRA: Low-Rank Adaptation").

Each targeted ``nn.Linear`` ``W`` (d_out × d_in) gains a trainable low-rank update: the layer
computes ``W x + (alpha / r) · B A dropout(x)`` with ``A`` (r × d_in, random) and ``B``
(d_out × r, zero at the start, so training starts from the base model exactly). Only ``A`` and
``B`` train: for SmolLM2-135M at rank 8 on every projection that is 2.4 M of 134.5 M
parameters, and the optimizer keeps state for those alone.

``peft`` wraps our ``Transformer`` as it is: its modules are plain ``nn.Linear`` with the
Llama names (``q_proj`` ... ``down_proj``), and peft's "custom model" path needs nothing
else, so we use it rather than a LoRA layer of our own. Merging (``merge_and_unload``) folds
``(alpha / r) · B A`` into ``W`` and gives back a plain ``Transformer``: the merged model is
served like any checkpoint, at no extra cost per token.

The adapter alone is saved in peft's layout, so anything that loads a peft adapter by path
(``PeftModel.from_pretrained``, our server's multi-LoRA) reads it::

    adapter/adapter_config.json         r, lora_alpha, lora_dropout, target_modules, base path
    adapter/adapter_model.safetensors   base_model.model.layers.{i}.attn.q_proj.lora_A.weight ...

(strip ``base_model.model.`` for our module names; ``lora_A`` is (r, d_in), ``lora_B``
(d_out, r), and the update is ``lora_alpha / r · B @ A``.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from torch import nn

from scalable_ai.errors import UserError
from scalable_ai.model.transformer import Transformer

ADAPTER_FOLDER = "adapter"
ALL_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class LoraSection:
    """LoRA settings; ``rank = 0`` means full fine-tuning (every weight trains)."""

    rank: int = 0
    alpha: int = 16
    dropout: float = 0.05
    target_modules: list[str] = field(default_factory=lambda: list(ALL_PROJECTIONS))

    def validate(self) -> None:
        if self.rank < 0:
            raise UserError(f"must be >= 0, got {self.rank}", field="lora.rank")
        if self.alpha <= 0:
            raise UserError(f"must be positive, got {self.alpha}", field="lora.alpha")
        if not 0 <= self.dropout < 1:
            raise UserError(f"must be in [0, 1), got {self.dropout}", field="lora.dropout")
        if self.rank and not self.target_modules:
            raise UserError("name at least one module (e.g. q_proj)", field="lora.target_modules")
        if "lm_head" in self.target_modules or "embed" in self.target_modules:
            raise UserError(
                "LoRA here adapts the blocks' projections; lm_head and embed are tied in "
                "small models, train them with full fine-tuning (lora.rank = 0)",
                field="lora.target_modules",
            )

    @property
    def enabled(self) -> bool:
        return self.rank > 0


def add_lora(model: Transformer, settings: LoraSection, base_path: str = "") -> nn.Module:
    """``model`` wrapped by peft with fresh adapters on ``settings.target_modules``; only
    the adapters require gradients. Unknown module names are refused by name."""
    settings.validate()
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [name for name in settings.target_modules if name not in present]
    if missing:
        raise UserError(
            f"no module named {missing[0]!r} in this model (it has e.g. "
            f"{', '.join(n for n in ALL_PROJECTIONS if n in present)})",
            field="lora.target_modules",
        )
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=settings.rank,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(settings.target_modules),
        bias="none",
    )
    wrapped = get_peft_model(model, config)
    wrapped.peft_config["default"].base_model_name_or_path = base_path or None
    return wrapped


def save_adapter(wrapped: nn.Module, folder: Path) -> Path:
    """Write the adapter alone (peft's ``adapter_config.json`` + ``adapter_model.safetensors``)."""
    # save_embedding_layers=False: embeddings are never adapted here, and peft's "auto" check
    # would look the base model up (on the Hugging Face hub for a name it does not know).
    wrapped.save_pretrained(str(folder), save_embedding_layers=False)  # type: ignore[operator]
    readme = folder / "README.md"  # peft's model-card stub: nothing a reader needs
    if readme.is_file():
        readme.unlink()
    return folder


def merge(wrapped: nn.Module) -> Transformer:
    """Fold the adapters into the base weights; returns the plain ``Transformer``."""
    merged: Any = wrapped.merge_and_unload()  # type: ignore[operator]
    if not isinstance(merged, Transformer):
        raise TypeError(f"merging gave a {type(merged).__name__}, not a Transformer")
    return merged


def trainable_parameters(model: nn.Module) -> tuple[int, int]:
    """(parameters that train, all parameters), a tied tensor counted once."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())
