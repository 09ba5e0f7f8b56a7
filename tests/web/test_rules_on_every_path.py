"""The syllabus's rules hold on every path that writes a score (issue 13: "Rules applied on
one write path only"). One table: the same case, "an exception never lowers a score already
earned", written through the web's grading page, the JSON API, the CLI and the Gradescope
import, gives the same outcome."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from scalable_ai.course.clock import FixedClock, parse_instant
from scalable_ai.course.db import unit_of_work
from scalable_ai.course.demo import DEMO_CREDENTIALS
from scalable_ai.course.service import Actor
from scalable_ai.course.service.credentials import create_api_token
from scalable_ai.course.service.grades import record_group_score
from scalable_ai.course.service.groups import group_by_name
from scalable_ai.course.service.people import find_by_email
from scalable_ai.course.service.slack import grant_exception
from scalable_ai.course.service.submissions import submit
from scalable_ai.course.tables import Score
from tests.web.conftest import STAFF_TOOL, post_form, sign_in

STAFF = next(c for c in DEMO_CREDENTIALS if c[0] == "staff")
NONE_USED = {"external_code": "none", "sources": "none", "ai_assistance": "none"}


def _handed_in_under_an_exception_and_graded_80(platform) -> list[tuple[int, str, str]]:
    """Tensor Titans hand A3 in on Mar 11 under an exception to Mar 12; A3.code is 80."""
    with unit_of_work(platform.engine) as session:
        group = group_by_name(session, STAFF_TOOL, "Tensor Titans")
        grant_exception(
            session,
            STAFF_TOOL,
            group_id=group.id,
            assignment="A3",
            new_deadline=parse_instant("2026-03-12T23:59"),
            reason="node outage",
            clock=platform.clock,
        )
        submit(
            session,
            Actor.of(group.members[0]),
            assignment="A3",
            integrity=NONE_USED,
            link="https://github.com/tensor-titans/a3/commit/1a2b3c4",
            clock=FixedClock(parse_instant("2026-03-11T20:00")),
        )
        record_group_score(
            session, STAFF_TOOL, group_id=group.id, item="A3.code", points=80, clock=platform.clock
        )
        return [(p.id, p.email, p.name) for p in group.members]


def by_web(platform, members) -> None:
    sign_in(platform.client, *STAFF[1:])
    page = platform.client.get("/staff/assignments/A3").text
    group_id = re.search(r'<tr id="group-(\d+)">\s*<th scope="row">Tensor Titans<', page).group(1)
    post_form(
        platform.client,
        "/staff/assignments/A3",
        "/staff/assignments/A3/scores",
        {f"score-{group_id}-code": "60"},
    )


def by_api(platform, members) -> None:
    with unit_of_work(platform.engine) as session:
        staff = find_by_email(session, STAFF[1])
        _row, token = create_api_token(
            session,
            Actor.of(staff),
            person_id=staff.id,
            name="grading script",
            clock=platform.clock,
        )
    answer = platform.new_client().post(
        "/api/scores",
        headers={"Authorization": f"Bearer {token}"},
        json={"person_id": members[0][0], "item": "A3.code", "points": 60},
    )
    assert answer.status_code == 200, answer.text


def by_cli(platform, members, monkeypatch) -> None:
    from scalable_ai.course.cli import course_app

    monkeypatch.setenv("SAI_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SAI_NOW", "2026-03-05T10:00")
    result = CliRunner().invoke(course_app, ["grades", "set", members[0][1], "A3.code", "60"])
    assert result.exit_code == 0, result.output


def by_import(platform, members) -> None:
    from scalable_ai.course.gradescope import import_gradebook

    header = (
        "Name,SID,Email,section_name,Assignment 3,Assignment 3 - Max Points,"
        "Assignment 3 - Submission Time,Assignment 3 - Lateness (H:M:S),"
        "Total Lateness (H:M:S)"
    )
    _id, email, name = members[0]
    csv_text = f"{header}\n{name},1,{email},101,60,100,2026-03-11 20:00:00 -0700,0:00:00,0:00:00\n"
    with unit_of_work(platform.engine) as session:
        import_gradebook(
            session,
            STAFF_TOOL,
            csv_text,
            {"Assignment 3": "A3.code"},
            apply=True,
            clock=platform.clock,
        )


@pytest.mark.parametrize("write", ["web", "api", "cli", "import"])
def test_an_exception_never_lowers_a_score_already_earned_on_any_path(
    demo_platform, monkeypatch, write
):
    members = _handed_in_under_an_exception_and_graded_80(demo_platform)
    if write == "cli":
        by_cli(demo_platform, members, monkeypatch)
    else:
        {"web": by_web, "api": by_api, "import": by_import}[write](demo_platform, members)
    with unit_of_work(demo_platform.engine) as session:
        score = session.scalar(
            select(Score).where(Score.person_id == members[0][0], Score.item == "A3.code")
        )
        assert score.points == 80, f"{write} lowered the score to {score.points}"
