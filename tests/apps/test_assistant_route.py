"""The course assistant's router: a question about the student's own record goes to that
course tool (its answer line is the answer), one about the schedule or the rules to the
tool that states them, anything else to the syllabus with citations."""

from __future__ import annotations

import pytest

from scalable_ai.apps.course_assistant import Route, route


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("How many slack days do I have left?", Route("tools", ("my_slack_days",))),
        ("How many slack days have I used so far?", Route("tools", ("my_slack_days",))),
        ("What is the IP address of my group's node?", Route("tools", ("my_group",))),
        ("Which group am I in?", Route("tools", ("my_group",))),
        ("What is my next assignment deadline?", Route("tools", ("my_deadlines",))),
        ("When is my reservation's hostfile ready?", Route("tools", ("my_reservation_hostfile",))),
        ("Is my group's reservation due?", Route("tools", ("my_deadlines", "my_group",
                                                           "my_reservation_hostfile"))),
        ("When is the next lecture?", Route("tools", ("course_schedule",))),
        ("What is the longest a reservation may last, in hours?",
         Route("tools", ("syllabus_rules",))),
        ("How many slack days can go on one assignment?", Route("tools", ("syllabus_rules",))),
        ("Are there any exams in this course?", Route("retrieval")),
        ("What does the syllabus say about using AI tools?", Route("retrieval")),
        ("Can I take the class pass/fail?", Route("retrieval")),
    ],
)  # fmt: skip
def test_questions_are_routed_by_what_they_ask(question, expected):
    assert route(question) == expected
