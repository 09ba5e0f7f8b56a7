"""The run registry: one folder per run, so every result can be traced to what made it.

Every command that trains, evaluates, benchmarks or serves opens a run::

    with open_run("bench.model_forward", config=cfg, seed=0) as run:
        run.log(step, loss=2.31, tokens_per_s=1234.0)
        run.artifact("curve.png")          # a path inside the run folder
        run.summary(decode_ratio=1.7)      # headline numbers, kept in run.json

The folder ``<runs_dir>/<id>/`` holds ``run.json`` (command line, the whole resolved config,
seed, git commit and dirty flag, package versions, host, device, start/end time, status,
summary), ``metrics.jsonl`` (one JSON object per ``log`` call, step-indexed) and artifacts.
``run.json`` is rewritten atomically at start and end, so a crashed run still says
``"status": "running"`` or ``"failed"`` with its error; a run stopped by SIGTERM says
``"terminated"`` (Ctrl-C: ``"interrupted"``). The course platform reads runs only
through this module (``list_runs``, ``load_run``, ``read_metrics``).
"""

from __future__ import annotations

import dataclasses
import json
import os
import platform
import random
import secrets
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from scalable_ai.errors import NotFound
from scalable_ai.settings import get_settings

RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
_VERSIONED = (
    "scalable-ai",
    "torch",
    "numpy",
    "transformers",
    "tokenizers",
    "gguf",
    "fastapi",
    "sqlalchemy",
)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so a CPU run is bit-reproducible at a fixed thread count."""
    random.seed(seed)
    try:
        import numpy as np

        np.random.seed(seed % 2**32)
    except ImportError:
        pass
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:
        pass


def git_state(cwd: Path | None = None) -> dict[str, Any]:
    """The commit of the source tree and whether it has uncommitted changes (None outside git)."""
    where = cwd or Path(__file__).resolve().parent

    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(
                ["git", *args], cwd=where, capture_output=True, text=True, timeout=5
            )
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in _VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def device_info() -> dict[str, Any]:
    """What the run computed on. Imports torch only if the process already did (cheap runs stay cheap)."""
    info: dict[str, Any] = {"cpu_count": os.cpu_count()}
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch_threads"] = torch.get_num_threads()
        info["cuda_count"] = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if info["cuda_count"]:
            info["cuda_name"] = torch.cuda.get_device_name(0)
    return info


def _jsonable(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "model_dump"):  # pydantic
        return _jsonable(value.model_dump())
    if hasattr(value, "item"):  # numpy / torch scalars
        return value.item()
    return str(value)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)


class Run:
    """An open run. Use :func:`open_run`, which finishes it whatever happens."""

    def __init__(self, path: Path, record: dict[str, Any]) -> None:
        self.path = path
        self.record = record
        self._metrics = (path / METRICS_FILE).open("a", buffering=1)

    @property
    def id(self) -> str:
        return self.record["id"]

    def log(self, step: int, **scalars: float) -> None:
        """Append one step's scalars to ``metrics.jsonl`` (flushed per line: tail -f works)."""
        row = {"step": int(step), "time": _now(), **{k: _jsonable(v) for k, v in scalars.items()}}
        self._metrics.write(json.dumps(row) + "\n")

    def summary(self, **scalars: Any) -> None:
        """Headline results, merged into ``run.json`` (shown by ``sai runs list/compare``)."""
        self.record.setdefault("summary", {}).update(_jsonable(scalars))
        _write_json(self.path / RUN_FILE, self.record)

    def artifact(self, name: str) -> Path:
        """A path for an output file inside the run folder (its parent folders exist)."""
        target = (self.path / "artifacts" / name).resolve()
        if self.path.resolve() not in target.parents:
            raise ValueError(f"artifact name escapes the run folder: {name!r}")
        target.parent.mkdir(parents=True, exist_ok=True)
        return target

    def finish(self, status: str, error: str | None = None) -> None:
        self._metrics.close()
        self.record.update(status=status, ended_at=_now())
        if error:
            self.record["error"] = error
        _write_json(self.path / RUN_FILE, self.record)


def new_run_id(command: str) -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    slug = "".join(c if c.isalnum() else "-" for c in command).strip("-") or "run"
    return f"{stamp}-{slug}-{secrets.token_hex(2)}"


@contextmanager
def open_run(
    command: str,
    *,
    config: Any = None,
    seed: int | None = None,
    runs_dir: Path | None = None,
    argv: list[str] | None = None,
    group: str | None = None,
) -> Iterator[Run]:
    """Open a run folder, record how the run was made, and close it with its final status.

    ``seed`` (when given) is applied with :func:`seed_everything` before the body runs.
    ``group`` (default ``SAI_GROUP``, set on a group's node) names the course group whose run
    this is: the course platform shows a student only their own group's runs.
    """
    root = Path(runs_dir) if runs_dir is not None else get_settings().runs_dir
    run_id = new_run_id(command)
    path = root / run_id
    path.mkdir(parents=True, exist_ok=False)
    record: dict[str, Any] = {
        "id": run_id,
        "command": command,
        "argv": list(sys.argv if argv is None else argv),
        "config": _jsonable(config) if config is not None else {},
        "seed": seed,
        "group": group if group is not None else get_settings().group,
        "git": git_state(),
        "versions": package_versions(),
        "host": {"hostname": socket.gethostname(), "platform": platform.platform()},
        "device": device_info(),
        "started_at": _now(),
        "ended_at": None,
        "status": "running",
        "summary": {},
    }
    _write_json(path / RUN_FILE, record)
    if seed is not None:
        seed_everything(seed)
    run = Run(path, record)
    previous = _stop_on_sigterm()
    try:
        yield run
    except KeyboardInterrupt:
        run.finish("interrupted")
        raise
    except Terminated:
        run.finish("terminated", error="stopped by SIGTERM")
        raise
    except BaseException as exc:
        run.finish("failed", error=f"{type(exc).__name__}: {exc}")
        raise
    else:
        run.record["device"] = device_info()  # torch may have been imported by the body
        run.finish("completed")
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


class Terminated(SystemExit):
    """SIGTERM arrived during a run (a scheduler's cancel, ``kill``, torchrun stopping its
    workers after one failed): the run is recorded as ``terminated`` and the process exits
    with 128 + 15, as the default action would have, instead of dying with ``run.json``
    saying "running" for ever. Python runs a signal handler between bytecodes, so a main
    thread stuck inside one C call (a hung collective) stops only when the call returns or
    at the launcher's SIGKILL (torchrun's comes ~30 s after its SIGTERM)."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)


def _raise_terminated(_signum: int, _frame: object) -> None:
    raise Terminated


def _stop_on_sigterm() -> Any:
    """Turn SIGTERM into :class:`Terminated` while the run is open, when this is the main
    thread and nobody else handles SIGTERM (a server's own graceful shutdown is kept).
    Returns the handler to put back, or None when nothing was changed."""
    if threading.current_thread() is not threading.main_thread():
        return None
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return None
    return signal.signal(signal.SIGTERM, _raise_terminated)


# Reading runs -------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class RunRecord:
    """A finished (or running) run as read back from disk."""

    path: Path
    data: dict[str, Any]

    @property
    def id(self) -> str:
        return self.data.get("id", self.path.name)

    @property
    def command(self) -> str:
        return self.data.get("command", "?")

    @property
    def status(self) -> str:
        return self.data.get("status", "?")

    @property
    def started_at(self) -> str:
        return self.data.get("started_at") or ""

    @property
    def config(self) -> dict[str, Any]:
        return self.data.get("config") or {}

    @property
    def summary(self) -> dict[str, Any]:
        return self.data.get("summary") or {}

    @property
    def group(self) -> str | None:
        """The course group the run belongs to (``SAI_GROUP`` when it ran), if any."""
        value = self.data.get("group")
        return str(value) if value else None

    def artifacts(self) -> list[Path]:
        folder = self.path / "artifacts"
        return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def list_runs(runs_dir: Path | None = None) -> list[RunRecord]:
    """All runs under ``runs_dir``, oldest first. Unreadable folders are skipped, not fatal."""
    root = Path(runs_dir) if runs_dir is not None else get_settings().runs_dir
    if not root.is_dir():
        return []
    records = []
    for run_file in root.glob(f"*/{RUN_FILE}"):
        try:
            records.append(RunRecord(run_file.parent, json.loads(run_file.read_text())))
        except (OSError, json.JSONDecodeError):
            continue
    return sorted(records, key=lambda r: (r.started_at, r.id))


def load_run(ref: str | Path, runs_dir: Path | None = None) -> RunRecord:
    """A run by folder path, full id, or unique id prefix/suffix (``sai runs show 3f2a``)."""
    candidate = Path(ref)
    if (candidate / RUN_FILE).is_file():
        return RunRecord(candidate, json.loads((candidate / RUN_FILE).read_text()))
    matches = [
        r
        for r in list_runs(runs_dir)
        if r.id == str(ref) or r.id.startswith(str(ref)) or r.id.endswith(str(ref))
    ]
    exact = [r for r in matches if r.id == str(ref)]
    if exact:
        return exact[0]
    if not matches:
        raise NotFound(f"no run matches {str(ref)!r}", field="run")
    if len(matches) > 1:
        raise NotFound(f"{len(matches)} runs match {str(ref)!r}; give more of the id", field="run")
    return matches[0]


def read_metrics(run: RunRecord) -> list[dict[str, Any]]:
    """The run's metric rows; a torn last line (a crash mid-write) is ignored."""
    path = run.path / METRICS_FILE
    if not path.is_file():
        return []
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows


def metric_series(run: RunRecord, metric: str) -> tuple[list[int], list[float]]:
    steps, values = [], []
    for row in read_metrics(run):
        if metric in row and isinstance(row[metric], int | float):
            steps.append(row["step"])
            values.append(float(row[metric]))
    return steps, values


def plot_metric(runs: list[RunRecord], metric: str, out: Path) -> Path:
    """Write a PNG of ``metric`` against step for one or more runs (one line each)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    plotted = 0
    for run in runs:
        steps, values = metric_series(run, metric)
        if steps:
            ax.plot(
                steps, values, marker="o" if len(steps) < 30 else None, markersize=3, label=run.id
            )
            plotted += 1
    if not plotted:
        plt.close(fig)
        raise NotFound(f"no run has numeric values for metric {metric!r}", field="metric")
    ax.set_xlabel("step")
    ax.set_ylabel(metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out)
    plt.close(fig)
    return out


def flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 3e-4}}`` → ``{"train.lr": 3e-4}`` (for comparing configs)."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def config_differences(runs: list[RunRecord]) -> dict[str, list[Any]]:
    """Config fields whose values differ between runs, field → one value per run."""
    flats = [flatten(r.config) for r in runs]
    keys = sorted(set().union(*flats)) if flats else []
    return {
        k: [f.get(k) for f in flats] for k in keys if len({json.dumps(f.get(k)) for f in flats}) > 1
    }
