"""The community pages over the demo course (what ``sai up`` shows once it also runs
``seed_community_demo``): every page answers for a student and for staff with the seeded
content, forms refuse a missing CSRF token, and staff pages refuse students."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import pytest

from scalable_ai.course.community.demo import seed_community_demo
from scalable_ai.course.db import unit_of_work
from scalable_ai.course.demo import DEMO_CREDENTIALS
from tests.web.conftest import open_platform, sign_in

STUDENT = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "student")
STAFF = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "staff")
STUDENT_PAGES = {
    "/qa": "FSDP2 vs DDP memory",
    "/qa/ticket": "NCCL timeout in all-reduce",
    "/questionnaire": "answers are closed",
    "/lectures": "L14",
    "/lectures/L3": "RoPE base in L3",
    "/check-in": "L14",
    "/participation": "lectures held so far",
    "/project": "Research direction",
    "/course": "Lecture and deadline schedule",
}
STAFF_PAGES = {
    "/qa": "Extension for a family emergency",
    "/questionnaire": "Respondents",
    "/staff/scribe-notes": "Scribe notes to review",
    "/staff/attendance": "Roll",
    "/staff/participation": "Write these scores",
    "/staff/project": "Muon at scale",
}


@pytest.fixture(scope="module")
def community_demo_database(demo_database: Path, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("community-demo")
    made = open_platform(demo_database, folder)
    with unit_of_work(made.engine) as session:
        seed_community_demo(session, made.clock)
    made.engine.dispose()
    return folder / "course.db"


@pytest.fixture
def demo(community_demo_database: Path, tmp_path: Path):
    made = open_platform(community_demo_database, tmp_path)
    with made.client:
        yield made
    made.engine.dispose()


@pytest.mark.parametrize("url", list(STUDENT_PAGES))
def test_a_student_sees_each_community_page_of_the_demo(demo, url):
    sign_in(demo.client, *STUDENT)
    answer = demo.client.get(url)
    assert answer.status_code == 200
    assert STUDENT_PAGES[url] in answer.text


@pytest.mark.parametrize("url", list(STAFF_PAGES))
def test_staff_see_each_community_page_of_the_demo(demo, url):
    sign_in(demo.client, *STAFF)
    answer = demo.client.get(url)
    assert answer.status_code == 200
    assert STAFF_PAGES[url] in answer.text


def test_a_private_question_stays_off_a_classmates_list(demo):
    sign_in(demo.client, *STUDENT)
    assert "Extension for a family emergency" not in demo.client.get("/qa").text


@pytest.mark.parametrize("url", [u for u in STAFF_PAGES if u.startswith("/staff")])
def test_staff_community_pages_refuse_students(demo, url):
    sign_in(demo.client, *STUDENT)
    assert demo.client.get(url).status_code == 403


@pytest.mark.parametrize(
    "action",
    [
        "/qa/ask",
        "/qa/ticket",
        "/questionnaire/answers",
        "/lectures/L3/comment",
        "/check-in",
        "/project/deliverables",
    ],
)
def test_community_forms_refuse_a_missing_csrf_token(demo, action):
    sign_in(demo.client, *STUDENT)
    assert demo.client.post(action, data={"title": "x", "body": "y"}).status_code == 403


def test_qa_has_a_general_category_and_an_unanswered_filter(demo_platform):
    """Issue 13: "no General category ... no resolved/unanswered filters"."""
    from tests.web.conftest import post_form

    sign_in(demo_platform.client, *STUDENT)
    post_form(
        demo_platform.client,
        "/qa",
        "/qa/ask",
        {
            "category": "general",
            "title": "Is Thursday's lecture recorded?",
            "body": "I have a conflict this week.",
        },
    )
    unanswered = demo_platform.client.get("/qa?show=unanswered").text
    assert "Is Thursday&#39;s lecture recorded?" in unanswered
    assert (
        "Is Thursday&#39;s lecture recorded?"
        not in demo_platform.client.get("/qa?show=answered").text
    )
    assert '<option value="general">General</option>' in demo_platform.client.get("/qa").text


def test_participation_flows_into_the_grade_without_the_staff_button(demo):
    """Issue 13: "Participation shows 0.0 on the grade while /participation shows 57.1% until
    staff press 'Write these scores to the grade book'"."""
    sign_in(demo.client, *STUDENT)  # the whole demo, as sai up seeds it
    ledger = _text(demo.client.get("/participation").text)
    percent = re.search(r"Component so far (\d+\.\d)%", ledger)
    assert percent and float(percent.group(1)) > 0
    grade = _text(demo.client.get("/grade").text)
    assert re.search(rf"Attendance & participation 10% {percent.group(1)} .*live from", grade)
    dashboard = _text(demo.client.get("/").text)
    assert f"participation: {percent.group(1)} so far" in dashboard


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html)))
