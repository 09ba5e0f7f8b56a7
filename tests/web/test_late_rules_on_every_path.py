"""The syllabus's late hand-in rules hold on every path that writes a hand-in (issue 13:
"Rules applied on one write path only"). One table: the same case, handed in through the
web page, the JSON API, the CLI (``sai course submissions hand-in``) and the Gradescope
import, gives the same outcome. A3 is due Mar 10, 23:59 Berkeley time; Ada has 3 slack days.

- on time: accepted, no slack day;
- up to 24 hours late, the slack day confirmed: accepted, a slack day spent (the import
  spends one by itself, as Gradescope's lateness is all it knows);
- up to 24 hours late, not confirmed: refused, no slack day (not on the import: it has no
  one to ask);
- more than 24 hours late: refused, nothing stored, no slack day;
- late under an exception to Mar 12: accepted, no slack day.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from scalable_ai.course.clock import parse_instant
from scalable_ai.course.db import unit_of_work
from scalable_ai.course.demo import DEMO_CREDENTIALS
from scalable_ai.course.service import Actor
from scalable_ai.course.service.actors import current_group_id
from scalable_ai.course.service.course import assignment_by_key
from scalable_ai.course.service.credentials import create_api_token
from scalable_ai.course.service.people import find_by_email
from scalable_ai.course.service.slack import grant_exception
from scalable_ai.course.tables import Score, SlackDayUse, Submission
from tests.web.conftest import STAFF_TOOL, post_form, sign_in

STUDENT = next(c for c in DEMO_CREDENTIALS if c[0] == "student")
A3_DUE = parse_instant("2026-03-10T23:59")
LINK = "https://github.com/example/a3/commit/5e6f7a8"
NONE_USED = {"external_code": "none", "sources": "none", "ai_assistance": "none"}

# case: (when handed in, Berkeley time; exception to; slack day confirmed?; accepted?, slack
# day spent?)
CASES = {
    "on time": ("2026-03-10T20:00", None, True, True, False),
    "a slack day": ("2026-03-11T10:00", None, True, True, True),
    "a slack day not confirmed": ("2026-03-11T10:00", None, False, False, False),
    "over 24 hours late": ("2026-03-12T10:00", None, True, False, False),
    "under an exception": ("2026-03-12T10:00", "2026-03-12T23:59", True, True, False),
}
PATHS = ["web", "api", "cli", "import"]


def by_web(platform, when: str, confirm: bool) -> None:
    sign_in(platform.client, *STUDENT[1:])
    post_form(
        platform.client,
        "/assignments/A3",
        "/assignments/A3/submit",
        {
            "link": LINK,
            "confirm_slack_day": "1" if confirm else "",
            **{f"integrity_{k}": v for k, v in NONE_USED.items()},
        },
    )


def by_api(platform, when: str, confirm: bool) -> None:
    with unit_of_work(platform.engine) as session:
        ada = find_by_email(session, STUDENT[1])
        _row, token = create_api_token(
            session, Actor.of(ada), person_id=ada.id, name="hand-in script", clock=platform.clock
        )
    platform.new_client().post(
        "/api/submissions",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "assignment": "A3",
            "integrity": NONE_USED,
            "confirm_slack_day": confirm,
            "link": LINK,
        },
    )


def by_cli(platform, when: str, confirm: bool, monkeypatch) -> None:
    from scalable_ai.course.cli import course_app

    monkeypatch.setenv("SAI_DATABASE_URL", platform.settings.database_url)
    monkeypatch.setenv("SAI_NOW", when)
    options = [f"--{k.replace('_', '-')}={v}" for k, v in NONE_USED.items()]
    result = CliRunner().invoke(
        course_app,
        ["submissions", "hand-in", STUDENT[1], "A3", f"--link={LINK}", *options,
         "--confirm-slack-day" if confirm else "--no-confirm-slack-day"],
    )  # fmt: skip
    assert result.exit_code in (0, 2), result.output  # 2: refused, in one line


def by_import(platform, when: str, confirm: bool) -> None:
    from scalable_ai.course.gradescope import import_gradebook

    late = max(parse_instant(when) - A3_DUE, timedelta(0))
    hours, rest = divmod(int(late.total_seconds()), 3600)
    lateness = f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    header = (
        "Name,SID,Email,section_name,Assignment 3,Assignment 3 - Max Points,"
        "Assignment 3 - Submission Time,Assignment 3 - Lateness (H:M:S),Total Lateness (H:M:S)"
    )
    row = (
        f"Ada Ng,1,{STUDENT[1]},101,90,100,{when.replace('T', ' ')}:00 -0700,{lateness},{lateness}"
    )
    with unit_of_work(platform.engine) as session:
        import_gradebook(
            session,
            STAFF_TOOL,
            f"{header}\n{row}\n",
            {"Assignment 3": "A3.code"},
            apply=True,
            clock=platform.clock,
        )


@pytest.mark.parametrize(
    ("case", "path"),
    [(c, p) for c in CASES for p in PATHS if CASES[c][2] or p != "import"],
)
def test_the_same_late_hand_in_gets_the_same_outcome_on_every_path(
    demo_platform, monkeypatch, case, path
):
    when, exception_to, confirm, accepted, slack_day = CASES[case]
    platform = demo_platform
    with unit_of_work(platform.engine) as session:
        ada = find_by_email(session, STUDENT[1])
        ada_id, group_id = ada.id, current_group_id(session, ada.id)
        if exception_to:
            grant_exception(
                session,
                STAFF_TOOL,
                group_id=group_id,
                assignment="A3",
                new_deadline=parse_instant(exception_to),
                reason="node outage",
                clock=platform.clock,
            )
    platform.set_clock(when)
    if path == "cli":
        by_cli(platform, when, confirm, monkeypatch)
    else:
        {"web": by_web, "api": by_api, "import": by_import}[path](platform, when, confirm)

    with unit_of_work(platform.engine) as session:
        a3 = assignment_by_key(session, "A3")
        handed_in = session.scalar(
            select(Submission).where(
                Submission.group_id == group_id, Submission.assignment_id == a3.id
            )
        )
        scored = session.scalar(
            select(Score).where(Score.person_id == ada_id, Score.item == "A3.code")
        )
        spent = session.scalars(
            select(SlackDayUse).where(
                SlackDayUse.person_id == ada_id,
                SlackDayUse.assignment_id == a3.id,
                SlackDayUse.revoked_at.is_(None),
            )
        ).all()
    # the import records a score (a hand-in row only when late); the others a hand-in
    got_accepted = (scored is not None) if path == "import" else (handed_in is not None)
    assert (got_accepted, bool(spent)) == (accepted, slack_day), (
        f"{case} via {path}: accepted={got_accepted}, slack day spent={bool(spent)}"
    )
