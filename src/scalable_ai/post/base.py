"""The model post-training starts from, and the model folder it ends with.

A base model is anything ``sai generate`` loads (a registered name such as ``smollm2-135m``,
a checkpoint folder, a ``.gguf`` file) or a run: a ``sai train`` run (its newest
checkpoint) or a ``sai sft``/``sai dpo`` run (its ``model/`` folder). The result of a
post-training run is again a plain checkpoint folder (``config.json``, ``model.safetensors``,
the tokenizer, and the command's resolved config as TOML) that ``sai serve PATH``,
``sai generate -m PATH`` and ``sai eval`` load with no conversion.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from scalable_ai.config import dump_toml
from scalable_ai.errors import NotFound, UserError
from scalable_ai.model.load.safetensors import is_checkpoint, save_checkpoint
from scalable_ai.model.tokenizer import Tokenizer
from scalable_ai.model.transformer import Transformer

#: The folder inside a post-training run that holds its model.
MODEL_FOLDER = "model"


def resolve_base(reference: str) -> str:
    """A path or registered name ``load_pretrained`` accepts, for ``reference`` (which may
    also be a run id or run folder)."""
    from scalable_ai.model.registry import REGISTRY

    path = Path(reference).expanduser()
    if reference in REGISTRY or is_checkpoint(path) or path.suffix == ".gguf":
        return reference
    from scalable_ai.runs import load_run
    from scalable_ai.train import checkpoint

    try:
        folder = path if path.is_dir() else load_run(reference).path
    except NotFound:
        raise UserError(
            f"{reference!r} is not a registered model, a checkpoint folder, a .gguf file or a run",
            field="model",
        ) from None
    if is_checkpoint(folder / MODEL_FOLDER):
        return str(folder / MODEL_FOLDER)
    return str(checkpoint.find(folder))


def load_base(
    reference: str, device: torch.device | str = "cpu"
) -> tuple[Transformer, Tokenizer, str]:
    """(model in float32 on ``device`` in train mode, its tokenizer, the resolved path).

    Weights stay float32 (the optimizer's master copy); compute runs in bf16 under autocast
    where the device has it, as in pre-training."""
    from scalable_ai.model.registry import load_pretrained

    resolved = resolve_base(reference)
    model, tokenizer = load_pretrained(resolved, dtype=torch.float32, device=device)
    if not isinstance(tokenizer, Tokenizer):
        raise UserError(f"{resolved}: no tokenizer with the model", field="model")
    return model.train(), tokenizer, resolved


def save_model(
    model: Transformer, tokenizer: Tokenizer, folder: Path, config: Any, config_name: str
) -> Path:
    """Write a servable checkpoint folder (weights, config, tokenizer, the run's config)."""
    save_checkpoint(model, folder)
    tokenizer.save(folder)
    (folder / config_name).write_text(dump_toml(config))
    return folder
