"""``sai course`` (issue 3): "``sai course init --from FILE`` and ``sai course calendar --out
FILE.ics``, both honouring ``SAI_DATABASE_URL``"; the calendar has all 26 lectures titled as
in the syllabus and every deadline (parsed with the ``icalendar`` package)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from icalendar import Calendar
from typer.testing import CliRunner

from scalable_ai.course.cli import course_app
from scalable_ai.course.spec import default_spec_path

runner = CliRunner()


@pytest.fixture
def database_url(tmp_path, monkeypatch) -> str:
    url = f"sqlite:///{tmp_path / 'course.db'}"
    monkeypatch.setenv("SAI_DATABASE_URL", url)
    return url


def _summaries(path: Path) -> list[str]:
    calendar = Calendar.from_ical(path.read_bytes())
    return [str(event["SUMMARY"]) for event in calendar.walk("VEVENT")]


def test_init_then_calendar_writes_every_lecture_and_deadline(database_url, tmp_path):
    result = runner.invoke(course_app, ["init", "--from", str(default_spec_path())])
    assert result.exit_code == 0, result.output
    out = tmp_path / "x.ics"
    result = runner.invoke(course_app, ["calendar", "--out", str(out)])
    assert result.exit_code == 0, result.output
    summaries = _summaries(out)
    lectures = [s for s in summaries if s.startswith("L") and ". " in s]
    assert len(lectures) == 26
    assert "L1. Course Overview and the Modern AI Stack" in summaries
    for key in ("A1", "A2", "A3", "A4", "A5"):
        assert any(s.startswith(f"{key} due") for s in summaries)
    assert "Hypothesis statement v1 due" in summaries


def test_calendar_as_markdown(database_url, tmp_path):
    runner.invoke(course_app, ["init"])
    out = tmp_path / "schedule.md"
    result = runner.invoke(course_app, ["calendar", "--out", str(out), "--markdown"])
    assert result.exit_code == 0, result.output
    assert "| Date | Lecture / Event | Notes |" in out.read_text()


def test_a_second_init_is_refused_with_exit_code_2(database_url):
    assert runner.invoke(course_app, ["init"]).exit_code == 0
    result = runner.invoke(course_app, ["init"])
    assert result.exit_code == 2
    assert "already holds a course" in result.output


def test_the_calendar_of_a_database_never_created_names_the_fix(database_url, tmp_path):
    result = runner.invoke(course_app, ["calendar", "--out", str(tmp_path / "x.ics")])
    assert result.exit_code == 2 and "sai course init" in result.output


def test_staff_work_from_the_terminal(database_url, tmp_path):
    assert runner.invoke(course_app, ["init", "--demo"]).exit_code == 0
    result = runner.invoke(course_app, ["slack", "spend", "Tensor Titans", "A3"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(course_app, ["slack", "show", "ada.ng@example.edu"])
    assert "1 used, 2 left of 3" in result.output
    result = runner.invoke(course_app, ["slack", "spend", "Tensor Titans", "A3"])
    assert result.exit_code == 2 and "at most one slack day" in result.output
    result = runner.invoke(course_app, ["token", "create", "haocheng.xi@example.edu"])
    assert result.exit_code == 0 and len(result.output.strip()) > 30
    csv_file = tmp_path / "gradebook.csv"
    csv_file.write_text(
        "Name,SID,Email,Assignment 1,Assignment 1 - Max Points,Assignment 1 - Submission Time,"
        "Assignment 1 - Lateness (H:M:S),Total Lateness (H:M:S)\n"
        "Ada Ng,303600000,ada.ng@example.edu,45,50,,0:00:00,0:00:00\n"
    )
    result = runner.invoke(
        course_app, ["import-gradescope", str(csv_file), "--map", "Assignment 1=A1"]
    )
    assert result.exit_code == 0 and "Dry run" in result.output, result.output
    book = tmp_path / "grades.csv"
    result = runner.invoke(course_app, ["grades", "export", "--out", str(book)])
    assert result.exit_code == 0, result.output
    header, *rows = book.read_text().splitlines()
    assert header.startswith("sid,email,name,project,") and len(rows) == 40


@pytest.mark.parametrize(
    "command",
    [
        ["students", "import", "{missing}"],
        ["import", "{missing}"],
        ["init", "--from", "{missing}"],
        ["grades", "export", "--out", "{blocked}"],
        ["export", "--out", "{blocked}"],
        ["calendar", "--out", "{blocked}"],
    ],
)
def test_a_file_that_cannot_be_read_or_written_is_one_line_and_exit_code_2(
    database_url, tmp_path, command
):
    assert runner.invoke(course_app, ["init"]).exit_code == 0
    (tmp_path / "a-file").write_text("not a folder")
    paths = {
        "missing": str(tmp_path / "missing.csv"),
        "blocked": str(tmp_path / "a-file" / "out.txt"),
    }
    result = runner.invoke(course_app, [part.format(**paths) for part in command])
    assert result.exit_code == 2, result.output
    assert "error:" in result.output and "cannot " in result.output


def test_export_then_import_into_a_new_database(database_url, tmp_path, monkeypatch):
    assert runner.invoke(course_app, ["init"]).exit_code == 0
    dump = tmp_path / "course.json"
    assert runner.invoke(course_app, ["export", "--out", str(dump)]).exit_code == 0
    monkeypatch.setenv("SAI_DATABASE_URL", f"sqlite:///{tmp_path / 'copy.db'}")
    result = runner.invoke(course_app, ["import", str(dump)])
    assert result.exit_code == 0, result.output
    assert runner.invoke(course_app, ["calendar", "--out", str(tmp_path / "c.ics")]).exit_code == 0


def test_the_sai_console_script_runs_init_and_calendar(tmp_path):
    env = {**os.environ, "SAI_DATABASE_URL": f"sqlite:///{tmp_path / 'sai.db'}"}
    script = Path(sys.executable).with_name("sai")  # the installed console script
    sai = [str(script)] if script.exists() else [sys.executable, "-m", "scalable_ai.cli"]
    init = subprocess.run(
        [*sai, "course", "init", "--from", str(default_spec_path())],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert init.returncode == 0, init.stderr
    out = tmp_path / "x.ics"
    calendar = subprocess.run(
        [*sai, "course", "calendar", "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert calendar.returncode == 0, calendar.stderr
    assert len([s for s in _summaries(out) if s.startswith("L") and ". " in s]) == 26


@pytest.mark.postgres
def test_init_and_calendar_on_postgresql(new_postgres_database, tmp_path, monkeypatch):
    monkeypatch.setenv("SAI_DATABASE_URL", new_postgres_database())
    result = runner.invoke(course_app, ["init", "--from", str(default_spec_path())])
    assert result.exit_code == 0, result.output
    out = tmp_path / "pg.ics"
    result = runner.invoke(course_app, ["calendar", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len([s for s in _summaries(out) if s.startswith("L") and ". " in s]) == 26


def test_the_cli_says_when_the_course_clock_is_pinned(database_url, monkeypatch):
    monkeypatch.setenv("SAI_NOW", "2026-03-05T10:00")
    result = runner.invoke(course_app, ["init"])
    assert result.exit_code == 0
    assert "course clock is pinned at 2026-03-05T10:00:00-08:00" in result.output
