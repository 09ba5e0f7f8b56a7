"""The lab runs: the run registry as pages, so a group can show its results at a checkoff.

"Keep runs reproducible (versioned code, pinned configs, logged seeds, and saved artifacts)"
(syllabus, Infrastructure): each page shows exactly what ``runs/<id>/run.json`` recorded —
the command, config, seed, git commit, versions — with the metrics as a table and plots.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import FileResponse, Response

from scalable_ai import runs as registry
from scalable_ai.course.service.actors import current_group_id
from scalable_ai.course.tables import Group
from scalable_ai.course.web.visit import Visit, open_visit
from scalable_ai.errors import NotFound

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
METRIC_ROWS_SHOWN = 200
RUN_ID = re.compile(r"[A-Za-z0-9._-]{1,200}")


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


def _own_group_name(visit: Visit) -> str | None:
    """The student's group name (what ``SAI_GROUP`` says on the group's node); staff: None."""
    me = visit.person()
    if me.is_staff:
        return None
    group_id = current_group_id(visit.db, me.id)
    group = visit.db.get(Group, group_id) if group_id is not None else None
    return group.name if group is not None else ""


def _visible(run: registry.RunRecord, group_name: str | None) -> bool:
    """Staff see every run; a student only their own group's (issue 21: every student saw
    every group's command lines, the server's paths and its host name)."""
    if group_name is None:
        return True
    return bool(group_name) and (run.group or "").casefold() == group_name.casefold()


def _run(visit: Visit, run_id: str) -> registry.RunRecord:
    if not RUN_ID.fullmatch(run_id):
        raise NotFound(f"no run {run_id[:80]!r} in the run registry", field="run")
    run = registry.load_run(run_id, visit.state.settings.runs_dir)
    if run.path.parent.resolve() != visit.state.settings.runs_dir.resolve() or not _visible(
        run, _own_group_name(visit)
    ):
        raise NotFound(f"no run {run_id!r} in the run registry", field="run")
    return run


def _without_server_paths(config: dict[str, Any]) -> dict[str, Any]:
    """A config as a student sees it: an absolute path shows only its last part."""
    return {
        key: (
            "…/" + Path(value).name
            if isinstance(value, str) and value.startswith(("/", "~"))
            else value
        )
        for key, value in config.items()
    }


@router.get("/runs")
def run_list(visit: VisitDep) -> Response:
    visit.person()
    group_name = _own_group_name(visit)
    runs = [
        run
        for run in reversed(registry.list_runs(visit.state.settings.runs_dir))
        if _visible(run, group_name)
    ]
    return visit.page(
        "runs.html",
        title="Lab runs",
        active="/runs",
        runs=runs,
        runs_dir=str(visit.state.settings.runs_dir) if group_name is None else "",
        group_name=group_name,
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
        config=(
            registry.flatten(run.config)
            if visit.person().is_staff
            else _without_server_paths(registry.flatten(run.config))
        ),
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
