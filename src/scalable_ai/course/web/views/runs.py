"""The lab runs: the run registry as pages, so a group can show its results at a checkoff.

"Keep runs reproducible (versioned code, pinned configs, logged seeds, and saved artifacts)"
(syllabus, Infrastructure): each page shows exactly what ``runs/<id>/run.json`` recorded —
the command, config, seed, git commit, versions — with the metrics as a table and plots.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, Response

from scalable_ai import runs as registry
from scalable_ai.course.web.visit import Visit, open_visit
from scalable_ai.errors import NotFound

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
METRIC_ROWS_SHOWN = 200


def _numeric_metrics(rows: list[dict[str, Any]]) -> list[str]:
    names: dict[str, None] = {}
    for row in rows:
        for key, value in row.items():
            if (
                key not in ("step", "time")
                and isinstance(value, int | float)
                and not isinstance(value, bool)
            ):
                names[key] = None
    return list(names)


def _run(visit: Visit, run_id: str) -> registry.RunRecord:
    run = registry.load_run(run_id, visit.state.settings.runs_dir)
    if run.path.parent.resolve() != visit.state.settings.runs_dir.resolve():
        raise NotFound(f"no run {run_id!r} in the run registry", field="run")
    return run


@router.get("/runs")
def run_list(visit: VisitDep) -> Response:
    visit.person()
    runs = list(reversed(registry.list_runs(visit.state.settings.runs_dir)))
    return visit.page(
        "runs.html",
        title="Lab runs",
        active="/runs",
        runs=runs,
        runs_dir=str(visit.state.settings.runs_dir),
    )


@router.get("/runs/{run_id}")
def run_detail(visit: VisitDep, run_id: str) -> Response:
    visit.person()
    run = _run(visit, run_id)
    rows = registry.read_metrics(run)
    metrics = _numeric_metrics(rows)
    images = [
        p.relative_to(run.path / "artifacts").as_posix()
        for p in run.artifacts()
        if p.suffix.lower() in (".png", ".jpg", ".jpeg", ".svg")
    ]
    others = [
        p.relative_to(run.path / "artifacts").as_posix()
        for p in run.artifacts()
        if p.suffix.lower() not in (".png", ".jpg", ".jpeg", ".svg")
    ]
    return visit.page(
        "run.html",
        title=f"Run {run.id}",
        active="/runs",
        run=run,
        config=registry.flatten(run.config),
        metrics=metrics,
        rows=rows[-METRIC_ROWS_SHOWN:],
        total_rows=len(rows),
        images=images,
        others=others,
    )


@router.get("/runs/{run_id}/artifacts/{name:path}")
def run_artifact(visit: VisitDep, run_id: str, name: str) -> Response:
    visit.person()
    run = _run(visit, run_id)
    folder = (run.path / "artifacts").resolve()
    target = (folder / name).resolve()
    if folder not in target.parents or not target.is_file():
        raise NotFound(f"run {run.id} has no artifact {name!r}", field="artifact")
    return FileResponse(target)


@router.get("/runs/{run_id}/plot/{metric}.png")
def run_plot(visit: VisitDep, run_id: str, metric: str) -> Response:
    """A PNG of one metric against step, drawn once per metrics-file version and cached."""
    visit.person()
    run = _run(visit, run_id)
    metrics_file = run.path / registry.METRICS_FILE
    version = metrics_file.stat().st_mtime_ns if metrics_file.exists() else 0
    key = hashlib.sha256(f"{run.path}|{metric}|{version}".encode()).hexdigest()[:24]
    cache = Path(visit.state.settings.data_dir) / "web-cache" / "plots" / f"{key}.png"
    if not cache.is_file():
        registry.plot_metric([run], metric, cache)
    return FileResponse(cache, media_type="image/png")
