"""The platform flow: a hand-in of a kit assignment queues a grading job; the worker grades
it in the sandbox outside any web request (one job per group at a time, retries when the
grader breaks), and the code score lands in the grade book with an audit entry.

The kit here is a tiny one written by the test (pytest only, no torch), so each grading run
takes a second or two; A4's own grading is tested in test_a4_grading.py.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from scalable_ai.course.clock import BERKELEY, FixedClock
from scalable_ai.course.db import unit_of_work
from scalable_ai.course.service import Actor
from scalable_ai.course.service import grading_jobs as jobs
from scalable_ai.course.service.groups import confirm_group, propose_group
from scalable_ai.course.service.people import add_person
from scalable_ai.course.service.submissions import submit
from scalable_ai.course.tables import AuditEntry, GradingJob, Score
from scalable_ai.kits import worker
from tests.course.conftest import seeded_group

NONE_USED = {"external_code": "none", "sources": "none", "ai_assistance": "none"}
A4_OPEN = FixedClock(datetime(2026, 3, 20, 12, 0, tzinfo=BERKELEY))

KIT_FILES = {
    "kit.toml": 'id = "A4"\ntitle = "tiny"\npoints = 10\nsubmission_files = ["answer.py"]\n'
    "[limits]\ntime_s = 120\ntest_timeout_s = 30\n",
    "handout.md": "# tiny\n",
    "questions.yaml": "assignment: A4\nquestions: []\n",
    "conftest.py": 'pytest_plugins = ["scalable_ai.kits.plugin"]\n',
    "starter/answer.py": "VALUE = None  # TODO\n",
    "tests/test_visible.py": "import pytest\n\n\n@pytest.mark.points(4)\n"
    "def test_value(submission):\n"
    '    """The answer is 42."""\n'
    '    assert submission.module("answer").VALUE == 42\n',
    "autograder/test_hidden.py": "import pytest\n\n\n@pytest.mark.points(6)\n"
    "def test_double(submission):\n"
    '    """Doubling works."""\n'
    '    assert submission.module("answer").double(21) == 42\n',
}


@pytest.fixture
def tiny_kit(tmp_path, monkeypatch) -> Path:
    root = tmp_path / "kits"
    for name, text in KIT_FILES.items():
        path = root / "A4" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    monkeypatch.setenv("SAI_KITS_DIR", str(root))
    return root


def upload(data_dir: Path, files: dict[str, str]) -> str:
    """Keep a zip as the web page does (``uploads/<sha256>/<name>``); returns its link."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    digest = hashlib.sha256(buffer.getvalue()).hexdigest()
    target = data_dir / "uploads" / digest / "hand-in.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(buffer.getvalue())
    return f"/uploads/{digest}/hand-in.zip"


def hand_in(engine, member: Actor, link: str, assignment: str = "A4", clock=A4_OPEN):
    with unit_of_work(engine, write=True) as session:
        row = submit(
            session, member, assignment=assignment, integrity=NONE_USED, upload=link, clock=clock
        )
        return row.id


def second_group(engine) -> list[Actor]:
    staff = Actor.local_staff("tests")
    with unit_of_work(engine) as session:
        people = [
            add_person(session, staff, name=f"Other {i}", email=f"other{i}@example.edu", clock=A4_OPEN)
            for i in range(4)
        ]  # fmt: skip
        session.flush()
        group = propose_group(session, staff, name="Other", member_ids=[p.id for p in people], clock=A4_OPEN)  # fmt: skip
        confirm_group(session, staff, group.id, clock=A4_OPEN)
        return [Actor.of(p) for p in people]


def test_a_kit_hand_in_is_graded_and_lands_in_the_grade_book(request, tmp_path, tiny_kit):
    engine, group_id, members = seeded_group("sqlite", request, 4, "Kit")
    link = upload(tmp_path, {"answer.py": "VALUE = 42\n\ndef double(x):\n    return 2 * x\n"})
    submission_id = hand_in(engine, members[0], link)
    with unit_of_work(engine) as session:
        [job] = session.scalars(select(GradingJob)).all()
        assert (job.status, job.submission_id, job.group_id) == ("queued", submission_id, group_id)

    assert worker.run_once(engine, tmp_path, A4_OPEN) == job.id

    with unit_of_work(engine) as session:
        job = session.get(GradingJob, job.id)
        assert (job.status, job.score, job.max_score, job.attempts) == ("done", 10.0, 10.0, 1)
        scores = session.scalars(select(Score).where(Score.item == "A4.code")).all()
        assert sorted(s.person_id for s in scores) == sorted(m.person_id for m in members)
        assert {(s.points, s.max_points, s.source) for s in scores} == {(10.0, 10.0, "autograder")}
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "score.record")
        ).all()
        assert {e.actor_label for e in entries} == {"autograder"} and len(entries) == len(members)
        # The group sees its visible test and the note, not the hidden test.
        student_view = jobs.visible_results(job, members[0])
        assert [t["name"] for t in student_view["tests"]] == ["The answer is 42."]
        assert len(jobs.visible_results(job, Actor.local_staff())["tests"]) == 2


def test_only_kit_assignments_handed_in_as_files_queue_jobs(request, tmp_path, tiny_kit):
    engine, _, members = seeded_group("sqlite", request, 4, "Plain")
    with unit_of_work(engine, write=True) as session:  # a link is stored, not graded
        submit(session, members[0], assignment="A4", integrity=NONE_USED,
               link="https://github.com/group/a4", clock=A4_OPEN)  # fmt: skip
    a3_open = FixedClock(datetime(2026, 3, 1, 12, 0, tzinfo=BERKELEY))  # A3 has no kit
    hand_in(engine, members[1], upload(tmp_path, {"answer.py": "VALUE = 1\n"}), "A3", a3_open)
    with unit_of_work(engine) as session:
        assert session.scalars(select(GradingJob)).all() == []


def test_a_group_never_has_two_jobs_running(request, tmp_path, tiny_kit):
    engine, _, members = seeded_group("sqlite", request, 4, "Busy")
    others = second_group(engine)
    link = upload(tmp_path, {"answer.py": "VALUE = 42\n"})
    first, second = hand_in(engine, members[0], link), hand_in(engine, members[1], link)
    other = hand_in(engine, others[0], link)
    claims = []
    for _ in range(3):
        with unit_of_work(engine, write=True) as session:
            job = jobs.claim_next_job(session, worker="w", clock=A4_OPEN)
            claims.append(job.submission_id if job else None)
    assert claims == [first, other, None]  # `second` waits for its group's running job
    assert second not in claims


def test_a_broken_grader_is_retried_then_the_job_fails(request, tmp_path, tiny_kit, monkeypatch):
    engine, _, members = seeded_group("sqlite", request, 4, "Retry")
    hand_in(engine, members[0], upload(tmp_path, {"answer.py": "VALUE = 42\n"}))

    def broken(*args, **kwargs):
        raise RuntimeError("grader machine out of disk")

    monkeypatch.setattr("scalable_ai.kits.grade.grade_submission", broken)
    states = []
    for _ in range(jobs.MAX_ATTEMPTS):
        job_id = worker.run_once(engine, tmp_path, A4_OPEN)
        with unit_of_work(engine) as session:
            job = session.get(GradingJob, job_id)
            states.append((job.status, job.attempts))
    assert states == [("queued", 1), ("queued", 2), ("failed", 3)]
    assert "out of disk" in job.error
    assert worker.run_once(engine, tmp_path, A4_OPEN) is None


def test_a_regrade_keeps_the_old_and_new_scores_in_the_audit_log(request, tmp_path, tiny_kit):
    engine, _, members = seeded_group("sqlite", request, 4, "Regrade")
    hand_in(engine, members[0], upload(tmp_path, {"answer.py": "VALUE = 42\n"}))
    worker.run_once(engine, tmp_path, A4_OPEN)  # 4 of 10: no double()
    (tiny_kit / "A4" / "autograder" / "test_hidden.py").unlink()  # staff drop the check
    (tiny_kit / "A4" / "kit.toml").write_text(KIT_FILES["kit.toml"].replace("10", "4"))
    with unit_of_work(engine, write=True) as session:
        [_job] = jobs.regrade_assignment(session, Actor.local_staff(), "A4", clock=A4_OPEN)
    worker.run_once(engine, tmp_path, A4_OPEN)
    with unit_of_work(engine) as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "score.record").order_by(AuditEntry.id)
        ).all()
        first, second = entries[: len(members)], entries[len(members) :]
        assert len(second) == len(members)
        assert {(e.before, e.after["points"], e.after["max_points"]) for e in first} == {
            (None, 4.0, 10.0)
        }
        assert {(e.before["max_points"], e.after["max_points"]) for e in second} == {(10.0, 4.0)}


def test_staff_see_the_queue_and_regrade_from_the_command_line(
    request, tmp_path, tiny_kit, monkeypatch, capsys
):
    from scalable_ai.cli import main

    engine, _, members = seeded_group("sqlite", request, 4, "Cli")
    hand_in(engine, members[0], upload(tmp_path, {"answer.py": "VALUE = 42\n"}))
    worker.run_once(engine, tmp_path, A4_OPEN)
    monkeypatch.setenv("SAI_DATABASE_URL", str(engine.url))
    monkeypatch.setenv("SAI_NOW", "2026-03-21T09:00")
    main(["kit", "jobs", "--assignment", "A4"])
    listed = capsys.readouterr().out
    assert "done" in listed and "4 / 10" in listed
    main(["kit", "regrade", "A4"])
    assert "1 hand-ins of A4 queued for grading again" in capsys.readouterr().out
    with unit_of_work(engine) as session:
        statuses = sorted(j.status for j in session.scalars(select(GradingJob)))
    assert statuses == ["done", "queued"]
