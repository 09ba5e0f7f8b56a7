"""Runs as evidence: a hand-in carries the ``sai runs`` folder of the experiment the handout
asks for on the group's GPU node, and the grader checks that it belongs to the submitted code
and ran what the handout pins, then shows its numbers to staff.

A kit asks for it in ``kit.toml``::

    [evidence]
    command = "parallel.run"          # run.json's "command"
    folder = "evidence"               # where in the submission run folders are looked for
    [evidence.pinned]                 # dotted paths into run.json and the values they must have
    "config.spec" = "fsdp=8"
    "config.settings.steps" = 50

For each folder holding a ``run.json`` under ``evidence/`` (a copy of ``runs/<id>/``), the
checks are: the command is the kit's; the run completed; its git commit is the submission's
(known when the hand-in is a git repository, otherwise the check says it could not be made),
or an earlier commit whose files differ from it only in the evidence folder (the group
commits its code, runs it, then commits the run folder), and the tree was clean; every pinned value matches. Staff see the run's summary and last
metrics beside the checks. Evidence never changes the code score: it is read by people (the
handout's question on the full version is graded with the rubric), so a check that fails is
a note, not a lost test. The files are the student's, read as data only, size-capped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalable_ai.runs import METRICS_FILE, RUN_FILE

#: run.json and metrics.jsonl larger than this are not read (a run.json is a few KB).
MAX_FILE_BYTES = 2 << 20
#: How many run folders one hand-in may offer.
MAX_RUNS = 8
MISSING = object()


@dataclass
class EvidenceSpec:
    """What a kit asks for (``[evidence]`` in ``kit.toml``)."""

    command: str
    pinned: dict[str, Any] = field(default_factory=dict)
    folder: str = "evidence"

    @classmethod
    def from_toml(cls, data: dict[str, Any] | None) -> EvidenceSpec | None:
        if not data:
            return None
        return cls(
            command=str(data["command"]),
            pinned=dict(data.get("pinned", {})),
            folder=str(data.get("folder", "evidence")),
        )


def _lookup(record: dict[str, Any], dotted: str) -> Any:
    value: Any = record
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def _same(found: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool) or isinstance(found, bool):
        return found is wanted
    if isinstance(wanted, int | float) and isinstance(found, int | float):
        return float(found) == float(wanted)
    return found == wanted


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_FILE_BYTES:
        return None
    try:
        data = json.loads(path.read_text(errors="replace"))
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def _last_metrics(path: Path) -> dict[str, Any]:
    """The last line of ``metrics.jsonl`` and how many lines it has."""
    if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_FILE_BYTES:
        return {}
    lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    for line in reversed(lines):
        try:
            last = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(last, dict):
            return {"steps_logged": len(lines), "last": last}
    return {"steps_logged": len(lines)}


def check_run(
    spec: EvidenceSpec, folder: Path, commit: str | None, same_code: list[str] | None = None
) -> dict[str, Any]:
    """The checks of one run folder and the numbers staff look at."""
    record = _read_json(folder / RUN_FILE)
    name = folder.name
    if record is None:
        return {"run": name, "ok": False, "checks": [_check("run.json", False, "unreadable")]}
    git = record.get("git") if isinstance(record.get("git"), dict) else {}
    checks = [
        _check(
            "command",
            record.get("command") == spec.command,
            f"{record.get('command')!r}, the kit asks for {spec.command!r}",
        ),
        _check("status", record.get("status") == "completed", str(record.get("status"))),
    ]
    run_commit = git.get("commit")
    if commit is None:
        checks.append(
            _check(
                "commit",
                None,
                f"run made at {run_commit}; hand in by repository to check it against the code",
            )
        )
    elif run_commit == commit:
        checks.append(_check("commit", True, f"run made at the submitted commit {commit}"))
    elif run_commit in (same_code or []):
        checks.append(
            _check(
                "commit",
                True,
                f"run made at {run_commit}: the submitted code, before the run "
                f"folder was committed",
            )
        )
    else:
        checks.append(
            _check("commit", False, f"run made at {run_commit}, the submission is {commit}")
        )
    checks.append(_check("clean tree", git.get("dirty") is False, f"dirty = {git.get('dirty')}"))
    for dotted, wanted in spec.pinned.items():
        found = _lookup(record, dotted)
        shown = "missing" if found is MISSING else repr(found)
        checks.append(
            _check(
                dotted, found is not MISSING and _same(found, wanted), f"{shown}, pinned {wanted!r}"
            )
        )
    return {
        "run": str(record.get("id", name)),
        "ok": all(c["ok"] is not False for c in checks),
        "checks": checks,
        "summary": record.get("summary") if isinstance(record.get("summary"), dict) else {},
        "metrics": _last_metrics(folder / METRICS_FILE),
        "device": record.get("device"),
        "started_at": record.get("started_at"),
    }


def _check(name: str, ok: bool | None, detail: str) -> dict[str, Any]:
    return {"check": name, "ok": ok, "detail": detail}


def check_evidence(
    spec: EvidenceSpec,
    submission: Path,
    commit: str | None,
    same_code: list[str] | None = None,
) -> dict[str, Any]:
    """Every run folder of ``submission/<folder>/`` checked; ``verdict`` is ``verified``
    (a run passed every check that could be made), ``mismatch`` or ``missing``."""
    root = submission / spec.folder
    folders = (
        sorted(p.parent for p in root.rglob(RUN_FILE) if not p.is_symlink())[:MAX_RUNS]
        if root.is_dir() and not root.is_symlink()
        else []
    )
    runs = [check_run(spec, folder, commit, same_code) for folder in folders]
    if not runs:
        verdict = "missing"
    else:
        verdict = "verified" if any(run["ok"] for run in runs) else "mismatch"
    return {"verdict": verdict, "command": spec.command, "pinned": spec.pinned, "runs": runs}


def evidence_note(report: dict[str, Any]) -> str:
    """One line for results.json's output (students see it too)."""
    if report["verdict"] == "missing":
        return (
            f"Run evidence: no run folder under evidence/ (the handout asks for a "
            f"{report['command']} run); staff will grade the full version without it."
        )
    lines = []
    for run in report["runs"]:
        failed = [f"{c['check']} ({c['detail']})" for c in run["checks"] if c["ok"] is False]
        unchecked = [c["check"] for c in run["checks"] if c["ok"] is None]
        state = "matches" if not failed else "does not match: " + "; ".join(failed)
        extra = f" (not checked: {', '.join(unchecked)})" if unchecked else ""
        lines.append(f"Run evidence {run['run']}: {state}{extra}.")
    return "\n".join(lines)
