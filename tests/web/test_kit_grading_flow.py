"""A kit hand-in in a real browser (issue 16): a student uploads the group's zip on the
assignment page, the autograder's worker grades it in the sandbox (outside the web request),
and the group sees the status, its visible tests and the code score, which is in the grade
book. Staff see the run folder handed in as evidence checked against the kit's pinned config,
and re-grade with the page's button. The kit is a tiny one written here (pytest only), so
grading takes seconds."""

from __future__ import annotations

import zipfile

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from scalable_ai.course.db import unit_of_work
from scalable_ai.course.service import groups as group_service
from scalable_ai.course.tables import Score
from scalable_ai.kits import worker
from scalable_ai.runs import open_run
from tests.course.test_grading_jobs import KIT_FILES
from tests.web.conftest import STAFF_TOOL, add_people, password_of

pytestmark = pytest.mark.browser

A4_OPEN = "2026-03-20T12:00"
TEAM = {
    "ada": ("Ada Lovelace", "ada.kit@berkeley.example", "student"),
    "alan": ("Alan Turing", "alan.kit@berkeley.example", "student"),
    "grace": ("Grace Hopper", "grace.kit@berkeley.example", "student"),
    "edsger": ("Edsger Dijkstra", "edsger.kit@berkeley.example", "student"),
    "barbara": ("Barbara Liskov", "barbara.kit@berkeley.example", "staff"),
}
STUDENTS = ("ada", "alan", "grace", "edsger")
EVIDENCE = '[evidence]\ncommand = "parallel.run"\n[evidence.pinned]\n"config.spec" = "fsdp=8"\n'


def _sign_in(page, url: str, key: str) -> None:
    name, email, _ = TEAM[key]
    page.goto(f"{url}/sign-in")
    page.get_by_label("E-mail").fill(email)
    page.get_by_label("Password").fill(password_of(name))
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def tiny_kit(tmp_path, monkeypatch):
    root = tmp_path / "kits"
    for name, text in KIT_FILES.items():
        path = root / "A4" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + (EVIDENCE if name == "kit.toml" else ""))
    monkeypatch.setenv("SAI_KITS_DIR", str(root))
    return root


def test_a_kit_hand_in_is_graded_and_the_group_sees_its_score(
    live_server, new_page, tiny_kit, tmp_path
):
    platform = live_server.platform
    platform.set_clock(A4_OPEN)
    ids = add_people(platform.engine, platform.clock, TEAM)
    with unit_of_work(platform.engine) as session:
        group = group_service.propose_group(
            session, STAFF_TOOL, name="Kernel Crew", member_ids=[ids[k] for k in STUDENTS],
            clock=platform.clock,
        )  # fmt: skip
        session.flush()
        group_service.confirm_group(session, STAFF_TOOL, group.id, clock=platform.clock)
    hand_in = tmp_path / "a4.zip"
    with open_run("parallel.run", config={"spec": "fsdp=2"}, runs_dir=tmp_path / "runs") as run:
        run.summary(tokens_per_second=12345.0)
    with zipfile.ZipFile(hand_in, "w") as archive:
        archive.writestr("a4/answer.py", "VALUE = 42\n\ndef double(x):\n    return 2 * x\n")
        archive.write(run.path / "run.json", f"a4/evidence/{run.id}/run.json")

    ada = new_page()
    _sign_in(ada, live_server.url, "ada")
    ada.goto(f"{live_server.url}/assignments/A4")
    ada.locator("#file").set_input_files(str(hand_in))
    ada.get_by_role("button", name="Hand in").click()
    expect(ada.get_by_role("status")).to_be_visible()
    expect(ada.locator(".grading-status")).to_have_text("queued")

    # The worker (its own process under `sai up`) claims and grades the job.
    assert worker.run_once(platform.engine, platform.settings.data_dir, platform.clock)

    ada.reload()
    expect(ada.locator(".grading-status")).to_have_text("done")
    expect(ada.locator(".grading-score")).to_have_text("10 / 10")
    ada.get_by_text("Tests of the hand-in").click()
    expect(ada.locator(".grading-tests")).to_contain_text("The answer is 42. — 4 / 4")
    expect(ada.locator(".grading-tests")).not_to_contain_text("Doubling works")  # hidden
    live_server.screenshot(ada, "kit-grading")
    with unit_of_work(platform.engine) as session:
        scores = session.scalars(select(Score).where(Score.item == "A4.code")).all()
        assert {(s.person_id, s.points, s.source) for s in scores} == {
            (ids[k], 10.0, "autograder") for k in STUDENTS
        }

    # Staff see the run handed in as evidence, checked against the kit's pinned spec...
    barbara = new_page()
    _sign_in(barbara, live_server.url, "barbara")
    barbara.goto(f"{live_server.url}/assignments/A4")
    barbara.get_by_text("Tests of the hand-in").click()
    expect(barbara.get_by_role("heading", name="Run evidence: mismatch")).to_be_visible()
    row = barbara.locator("table.evidence tr", has_text="config.spec")
    expect(row).to_contain_text("MISMATCH")
    expect(row).to_contain_text("'fsdp=2', pinned 'fsdp=8'")
    expect(barbara.locator("table.evidence")).to_contain_text("12345.0")
    expect(ada.locator("table.evidence")).to_have_count(0)  # students see only the note
    # ...and re-grade every group's latest hand-in with the button.
    barbara.get_by_role("button", name="Re-grade every group's latest hand-in").click()
    expect(barbara.get_by_role("status")).to_contain_text("Queued 1 hand-in(s) of A4")
    expect(barbara.locator(".grading-status").first).to_have_text("queued")
    assert worker.run_once(platform.engine, platform.settings.data_dir, platform.clock)
    barbara.reload()
    expect(barbara.locator(".grading-status")).to_have_text(["done", "done"])
