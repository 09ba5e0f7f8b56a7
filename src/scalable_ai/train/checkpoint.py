"""Training checkpoints: a model folder any ``sai`` command loads, plus what resuming needs.

A checkpoint is one folder, ``<run>/checkpoints/step-00000600/``::

    config.json, model.safetensors          the model (model/load/safetensors.py's format)
    tokenizer.json, tokenizer_config.json   its tokenizer
    train.toml                              the whole training config
    optimizer.safetensors                   every optimizer tensor and the RNG states
    trainer_state.json                      step, loader position, optimizer structure

so ``sai generate/chat/serve <folder>`` load it as they load a pulled model, with no
conversion. Nothing is pickled: tensors are safetensors, everything else JSON, and loading
runs no code. The folder is written under a hidden name and renamed when complete, so a
``kill -9`` mid-write leaves the previous checkpoint as the latest one.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from scalable_ai.config import dump_toml
from scalable_ai.errors import UserError
from scalable_ai.model.config import ModelConfig
from scalable_ai.model.load.safetensors import CONFIG_FILE, save_checkpoint
from scalable_ai.model.transformer import Transformer

STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.safetensors"
TRAIN_CONFIG_FILE = "train.toml"
PREFIX = "step-"


def _flatten(value: Any, key: str, tensors: dict[str, torch.Tensor]) -> Any:
    """A JSON tree for ``value`` with each tensor replaced by its key in ``tensors``.

    Dict keys keep their type (optimizer states are keyed by int), tuples stay tuples.
    """
    if isinstance(value, torch.Tensor):
        tensors[key] = value.detach().to("cpu", copy=True).contiguous()
        return {"__tensor__": key}
    if isinstance(value, dict):
        return {"__dict__": [[k, _flatten(v, f"{key}/{k}", tensors)] for k, v in value.items()]}
    if isinstance(value, tuple):
        return {"__tuple__": [_flatten(v, f"{key}/{i}", tensors) for i, v in enumerate(value)]}
    if isinstance(value, list):
        return [_flatten(v, f"{key}/{i}", tensors) for i, v in enumerate(value)]
    return value


def _unflatten(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(tree, dict):
        if "__tensor__" in tree:
            return tensors[tree["__tensor__"]]
        if "__dict__" in tree:
            return {k: _unflatten(v, tensors) for k, v in tree["__dict__"]}
        if "__tuple__" in tree:
            return tuple(_unflatten(v, tensors) for v in tree["__tuple__"])
    if isinstance(tree, list):
        return [_unflatten(v, tensors) for v in tree]
    return tree


def rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))


def save(
    folder: Path,
    step: int,
    model: Transformer,
    model_state: dict[str, torch.Tensor],
    optimizer_state: dict[str, Any],
    trainer_state: dict[str, Any],
    config: Any,
    tokenizer: Any | None,
) -> Path:
    """Write ``folder/step-NNNNNNNN`` whole, atomically; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{PREFIX}{step:08d}"
    staging = folder / f".{final.name}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    cpu_model = _weights_only_model(model, model_state)
    save_checkpoint(cpu_model, staging)
    if tokenizer is not None:
        tokenizer.save(staging)
    tensors: dict[str, torch.Tensor] = {}
    tree = {
        "optimizer": _flatten(optimizer_state, "optimizer", tensors),
        "rng": _flatten(rng_state(), "rng", tensors),
    }
    save_file(tensors, str(staging / OPTIMIZER_FILE))
    (staging / STATE_FILE).write_text(json.dumps({**trainer_state, "step": step, **tree}) + "\n")
    (staging / TRAIN_CONFIG_FILE).write_text(dump_toml(config))
    if final.exists():
        shutil.rmtree(final)
    staging.rename(final)
    return final


def _weights_only_model(model: Transformer, state: dict[str, torch.Tensor]) -> Transformer:
    """A CPU ``Transformer`` on ``state`` (which may come gathered from many ranks)."""
    with torch.device("meta"):
        shell = Transformer(model.config)
    cpu = {k: v.detach().to("cpu") for k, v in state.items()}
    if model.config.tie_embeddings:
        cpu.setdefault("lm_head.weight", cpu["embed.weight"])
    shell.load_state_dict(cpu, strict=True, assign=True)
    return shell


def checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    found = [
        p
        for p in folder.iterdir()
        if p.is_dir() and p.name.startswith(PREFIX) and (p / STATE_FILE).is_file()
    ]
    return sorted(found, key=lambda p: int(p.name[len(PREFIX) :]))


def prune(folder: Path, keep: int) -> None:
    """Keep the newest ``keep`` checkpoints (0 keeps all)."""
    if keep > 0:
        for old in checkpoints(folder)[:-keep]:
            shutil.rmtree(old)


def find(path: str | Path) -> Path:
    """The checkpoint to resume from: a checkpoint folder, or the newest one of a run."""
    path = Path(path).expanduser()
    if (path / STATE_FILE).is_file():
        return path
    for candidate in (path / "checkpoints", path):
        found = checkpoints(candidate)
        if found:
            return found[-1]
    if not path.exists():
        from scalable_ai.runs import load_run

        return find(load_run(str(path)).path)
    raise UserError(f"{path}: no complete checkpoint here (needs {STATE_FILE})", field="resume")


def check_same_model(checkpoint: Path, config: ModelConfig) -> None:
    """Resuming needs the very model that was saved: name the first field that changed."""
    saved = ModelConfig.load(checkpoint / CONFIG_FILE).to_dict()
    for key, value in config.to_dict().items():
        if key != "name" and saved.get(key) != value:
            raise UserError(
                f"{checkpoint / CONFIG_FILE} has {saved.get(key)!r}, the config asks for "
                f"{value!r}; resuming needs the same model shape",
                field=f"model.{key}",
            )


def load(checkpoint: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    """(model weights with a tied head filled in, optimizer state, trainer state)."""
    from scalable_ai.model.load.safetensors import WEIGHTS_FILE

    config = ModelConfig.load(checkpoint / CONFIG_FILE)
    weights = load_file(str(checkpoint / WEIGHTS_FILE))
    if config.tie_embeddings:
        weights.setdefault("lm_head.weight", weights["embed.weight"])
    try:
        state = json.loads((checkpoint / STATE_FILE).read_text())
        tensors = load_file(str(checkpoint / OPTIMIZER_FILE))
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(
            f"{checkpoint}: unreadable training state ({exc})", field="resume"
        ) from None
    state["optimizer"] = _unflatten(state["optimizer"], tensors)
    state["rng"] = _unflatten(state["rng"], tensors)
    return weights, state.pop("optimizer"), state
