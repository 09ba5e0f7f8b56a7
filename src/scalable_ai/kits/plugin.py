"""The pytest plugin every kit's tests run under: points, visibility, partial credit, and the
submission under test.

One test format, two audiences (otter-grader's and okpy's idea): a test is a plain pytest
function that carries its points, and the same file runs on a student's laptop
(``pytest tests`` in the bundle prints the visible score) and in the grader (which adds
``--kit-results`` and collects every outcome into Gradescope's format)::

    @pytest.mark.points(3)
    def test_release_returns_the_block(submission):
        \"\"\"A released block can be allocated again.\"\"\"
        allocator = submission.module("block_allocator").BlockAllocator(2)

Visibility is ``hidden`` for tests under an ``autograder/`` folder and ``visible`` elsewhere,
unless ``@pytest.mark.visibility("after_due_date")`` says otherwise. A test may earn part of
its points through the ``credit`` fixture (``credit.fraction = 0.5``), which performance
checks use to grade a measured ratio. The first paragraph of a test's docstring is its name.

When grading, the plugin also turns network use into a clear failure: a ``sys.addaudithook``
hook (which Python code cannot remove) refuses ``socket.connect`` and name lookups with a
message, on top of the sandbox's own empty network namespace.
"""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scalable_ai.settings import get_settings

OUTPUT_LIMIT = 3000
NETWORK_EVENTS = ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "socket.sendto")


class NetworkRefused(PermissionError):
    """Raised inside a submission that tries the network while it is being graded."""


@dataclass
class Credit:
    """The share of a test's points it earned (1.0 unless a test says less) and why."""

    fraction: float = 1.0
    note: str = ""


class Submission:
    """The student's folder under test: its modules are imported from there, once each.

    A module that failed to import (a syntax error, an exception, a hang cut by the per-test
    timeout) fails every later test that needs it at once with the same message, instead of
    running (and timing out) again.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._failures: dict[str, str] = {}

    def path(self, name: str) -> Path:
        return self.folder / name

    def module(self, name: str) -> Any:
        if name in self._failures:
            pytest.fail(self._failures[name], pytrace=False)
        if not (self.folder / f"{name}.py").is_file():
            pytest.fail(f"the submission has no {name}.py", pytrace=False)
        try:
            return importlib.import_module(name)
        except BaseException as exc:  # a timeout's Failed is a BaseException too
            sys.modules.pop(name, None)
            message = f"importing {name}.py failed: {type(exc).__name__}: {exc}"
            self._failures[name] = message
            pytest.fail(message, pytrace=False)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kit", "assignment kit grading")
    group.addoption("--kit-results", help="write each test's outcome as JSON lines here")
    group.addoption("--kit-submission", help="the submission folder (default: ./starter)")


def _submission_folder(config: pytest.Config) -> Path:
    """``--kit-submission``, ``$SAI_KIT_SUBMISSION``, else the ``starter/`` of the kit whose
    tests are being run (the folder above them that holds ``starter/`` and ``conftest.py``)."""
    chosen = config.getoption("--kit-submission") or get_settings().kit_submission
    if chosen:
        return Path(chosen).resolve()
    start = Path(config.args[0]).resolve() if config.args else Path.cwd()
    for folder in [start, *start.parents]:
        if (folder / "starter").is_dir() and (folder / "conftest.py").is_file():
            return folder / "starter"
    return Path.cwd() / "starter"


def _network_guard(event: str, args: tuple) -> None:
    if event in NETWORK_EVENTS:
        target = args[1] if event in ("socket.connect", "socket.sendto") else args[0]
        _state.network_attempts.append(f"{event} {target!r}")
        raise NetworkRefused(f"the network is off while grading ({event} to {target!r})")


class _State:
    def __init__(self) -> None:
        self.results_file: Any = None
        self.outcomes: dict[str, dict[str, Any]] = {}
        self.credits: dict[str, Credit] = {}
        self.network_attempts: list[str] = []
        self.submission: Submission | None = None


_state = _State()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "points(n): the points a test is worth")
    config.addinivalue_line(
        "markers", "visibility(v): visible, hidden, after_due_date or after_published"
    )
    folder_path = _submission_folder(config)
    # Appended, not prepended: a submission's file cannot shadow torch or the lab stack.
    sys.path.append(str(folder_path))
    _state.submission = Submission(folder_path)
    results = config.getoption("--kit-results")
    if results:
        _state.results_file = open(results, "a", buffering=1)  # noqa: SIM115 (kept for the run)
        sys.addaudithook(_network_guard)


def test_meta(item: pytest.Item) -> dict[str, Any]:
    """Name, points and visibility of a collected test."""
    points_mark = item.get_closest_marker("points")
    visibility_mark = item.get_closest_marker("visibility")
    in_autograder = "autograder" in Path(str(item.path)).parts
    doc = getattr(getattr(item, "function", None), "__doc__", None) or ""
    first_paragraph = " ".join(doc.strip().split("\n\n")[0].split())
    first_line = first_paragraph or item.name
    return {
        "nodeid": item.nodeid,
        "test": item.name,
        "name": first_line,
        "max_score": float(points_mark.args[0]) if points_mark else 0.0,
        "visibility": visibility_mark.args[0]
        if visibility_mark
        else ("hidden" if in_autograder else "visible"),
    }


def _write(record: dict[str, Any]) -> None:
    if _state.results_file is not None:
        _state.results_file.write(json.dumps(record) + "\n")


def pytest_collection_finish(session: pytest.Session) -> None:
    for item in session.items:
        meta = test_meta(item)
        _state.outcomes[item.nodeid] = {**meta, "outcome": "not run", "output": ""}
        _write({"kind": "collected", **meta})


@pytest.fixture
def submission() -> Submission:
    """The submission under test (``--kit-submission``, else the bundle's ``starter/``)."""
    assert _state.submission is not None
    return _state.submission


@pytest.fixture
def credit(request: pytest.FixtureRequest) -> Credit:
    """Set ``fraction`` (0..1) for partial credit, ``note`` to say what was measured."""
    value = Credit()
    _state.credits[request.node.nodeid] = value
    return value


def _clip(text: str) -> str:
    if len(text) <= OUTPUT_LIMIT:
        return text
    return f"[... {len(text) - OUTPUT_LIMIT} characters cut ...]\n" + text[-OUTPUT_LIMIT:]


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    record = _state.outcomes.get(report.nodeid)
    if record is None:
        return
    if report.failed:
        phase = "" if report.when == "call" else f"(in {report.when}) "
        record["outcome"] = "failed"
        record["output"] = _clip(phase + report.longreprtext)
    elif report.skipped and record["outcome"] == "not run":
        record["outcome"] = "skipped"
        record["output"] = _clip(str(report.longrepr[-1]) if report.longrepr else "skipped")
    elif report.passed and report.when == "call" and record["outcome"] == "not run":
        record["outcome"] = "passed"


def pytest_runtest_logfinish(nodeid: str, location: tuple) -> None:
    record = _state.outcomes.get(nodeid)
    if record is None:
        return
    fraction = 0.0
    if record["outcome"] == "passed":
        earned = _state.credits.get(nodeid, Credit())
        fraction = min(max(earned.fraction, 0.0), 1.0)
        record["output"] = earned.note
    record["score"] = round(record["max_score"] * fraction, 4)
    _write({"kind": "result", **record})


def pytest_terminal_summary(terminalreporter: Any) -> None:
    records = [r for r in _state.outcomes.values() if "score" in r]
    if not records:
        return
    earned = sum(r["score"] for r in records)
    total = sum(r["max_score"] for r in records)
    terminalreporter.write_sep("=", f"kit score: {earned:g} / {total:g} points")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _state.network_attempts:
        _write({"kind": "network", "attempts": _state.network_attempts[:20]})
    if _state.results_file is not None:
        _state.results_file.close()
        _state.results_file = None
