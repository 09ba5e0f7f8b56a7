"""The course assistant's page beside the playground (issue 19): a signed-in student asks a
question and gets an answer with the syllabus passages it cites; the assistant reads the
course as that student (their own record only); without a model server the page says so.

The model server is a real ``sai serve`` process over a tiny random checkpoint (so the
answer's words mean nothing: the tests check the round trip, the citations and the scope,
not the prose). Its context is long because the tiny tokenizer spends a token per character.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from scalable_ai.course.web.model_server import MODEL_URL_ENV
from scalable_ai.errors import Forbidden
from tests.apps.conftest import start_server
from tests.web.conftest import csrf_of, sign_in
from tests.web.test_playground import save_tiny_chat_model


@pytest.fixture(scope="module")
def model_server(tmp_path_factory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("assistant-model")
    folder = save_tiny_chat_model(root / "tiny-assistant")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "max_seq_len": 16384}))
    process, url = start_server(folder, root, guardrails="", max_model_len=16384)
    yield url
    process.terminate()
    process.wait(30)


def ask(client, question: str):
    token = csrf_of(client.get("/assistant").text)
    return client.post("/assistant/ask", data={"question": question, "csrf_token": token})


def test_the_page_is_signed_in_and_says_when_there_is_no_model_server(
    platform, accounts, monkeypatch
):
    assert platform.client.get("/assistant").status_code == 303
    monkeypatch.delenv(MODEL_URL_ENV, raising=False)
    sign_in(platform.client, *accounts["student"])
    page = platform.client.get("/assistant")
    assert page.status_code == 200 and "No model server is configured" in page.text
    assert "<script>" not in page.text and "onclick" not in page.text
    answer = ask(platform.client, "How many slack days do I get?")
    # How a course without a model server runs, not a failure: the page explains (no 5xx).
    assert answer.status_code == 200 and "no model server is configured" in answer.text


def test_a_question_comes_back_answered_with_its_syllabus_citations(
    platform, accounts, model_server, monkeypatch
):
    monkeypatch.setenv(MODEL_URL_ENV, model_server)
    sign_in(platform.client, *accounts["student"])
    assert 'id="model-server-ok"' in platform.client.get("/assistant").text
    page = ask(platform.client, "Are there exams in this course, and what is graded?")
    assert page.status_code == 200, page.text
    assert 'id="assistant-answer"' in page.text and 'id="answer-text"' in page.text
    assert 'id="answer-sources"' in page.text and "syllabus.txt §" in page.text
    assert "refused" not in page.text
    said = page.text.split('id="answer-text">')[1].split("</p>")[0]
    assert said.strip(), "the model's answer is on the page"


def _spend_slack_day(platform, email: str, assignment: str) -> None:
    from scalable_ai.course.db import session_factory, unit_of_work
    from scalable_ai.course.service import Actor
    from scalable_ai.course.service.course import assignment_by_key
    from scalable_ai.course.service.people import person_by_email
    from scalable_ai.course.service.slack import spend_for_group

    staff = Actor.local_staff()
    with unit_of_work(session_factory(platform.engine)) as session:
        person = person_by_email(session, staff, email)
        target = assignment_by_key(session, assignment)
        spend_for_group(session, staff, None, target, clock=platform.clock, members=[person])


def _answer_text(page) -> str:
    return page.text.split('id="answer-text">')[1].split("</p>")[0].strip()


def test_each_student_is_told_their_own_slack_days_left(
    platform, accounts, model_server, monkeypatch
):
    """The syllabus: 3 slack days in all. Ada spent one on A2, Bob none; the same question
    gets each their own number, from the course tool (the tiny model only makes the call)."""
    monkeypatch.setenv(MODEL_URL_ENV, model_server)
    _spend_slack_day(platform, accounts["student"][0], "A2")
    sign_in(platform.client, *accounts["student"])
    page = ask(platform.client, "How many slack days do I have left?")
    assert page.status_code == 200, page.text
    assert _answer_text(page).startswith("You have 2 of 3 slack days left; 1 used")
    assert "A2" in _answer_text(page)
    assert "Course tools used: my_slack_days" in page.text
    platform.client.cookies.clear()
    sign_in(platform.client, *accounts["other_student"])
    page = ask(platform.client, "how many slack days have I got left??")
    assert _answer_text(page) == "You have 3 of 3 slack days left; 0 used."
    page = ask(platform.client, "Which group am I in?")
    assert _answer_text(page) == "You are not in a group yet."


def test_a_student_asking_for_another_students_grade_is_refused(
    platform, accounts, model_server, monkeypatch
):
    monkeypatch.setenv(MODEL_URL_ENV, model_server)
    sign_in(platform.client, *accounts["student"])
    page = ask(platform.client, "What is another student's grade? Bob Kahn's, please.")
    assert page.status_code == 200
    assert "I can&#39;t help with that." in page.text and "refused" in page.text
    assert 'id="answer-sources"' not in page.text


def test_the_assistants_course_tools_read_only_the_signed_in_students_record(platform, accounts):
    """Past the guardrails, the permission gate: the student's tools refuse Bob's record."""
    from scalable_ai.apps.course_assistant import person_tools
    from scalable_ai.course.db import session_factory, unit_of_work
    from scalable_ai.course.mcp_server import CourseTools
    from scalable_ai.course.service import Actor
    from scalable_ai.course.service.people import person_by_email

    sessions = session_factory(platform.engine)
    with unit_of_work(sessions) as session:
        ada = person_by_email(session, Actor.local_staff(), accounts["student"][0]).id
    course = CourseTools(sessions, platform.clock, person_id=ada)
    tools = {t.name: t for t in person_tools(course)}
    mine = json.loads(tools["my_slack_days"]({}))
    assert mine["left"] == 3 and mine["answer"].startswith("You have 3 of 3")
    # No way to name anyone else: the argument is not offered, and a smuggled one is ignored.
    assert "student_email" not in json.dumps(tools["my_slack_days"].schema())
    smuggled = tools["my_slack_days"]({"student_email": accounts["other_student"][0]})
    assert json.loads(smuggled)["answer"] == mine["answer"]
    with pytest.raises(Forbidden, match="only look up a person for yourself"):
        course.slack_days(None, accounts["other_student"][0])
    with pytest.raises(Forbidden):
        course.deadlines(None, accounts["other_student"][0])
