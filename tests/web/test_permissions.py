"""Who may see what (issue 3: "a student sees only their own grades and their group's data";
issue 4: staff pages refuse students). Checked over HTTP against the demo course."""

from __future__ import annotations

import pytest

from scalable_ai.course.db import unit_of_work
from scalable_ai.course.demo import DEMO_CREDENTIALS
from scalable_ai.course.service.people import find_by_email, set_password_hash
from scalable_ai.course.web.security import hash_password
from tests.web.conftest import STAFF_TOOL, post_form, sign_in
from tests.web.test_demo_pages import STAFF_PAGES

STUDENT = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "student")
OTHER_GROUP_STUDENT = "olga.wirth@example.edu"  # KV Cachers, node-4 (not Ada's group)


@pytest.fixture
def other_group_student(demo_platform) -> tuple[str, str]:
    with unit_of_work(demo_platform.engine) as session:
        person = find_by_email(session, OTHER_GROUP_STUDENT)
        set_password_hash(
            session, STAFF_TOOL, person.id, hash_password("kj-password"), clock=demo_platform.clock
        )
    return OTHER_GROUP_STUDENT, "kj-password"


@pytest.mark.parametrize("url", [u for u in STAFF_PAGES if u.startswith("/staff")])
def test_staff_pages_refuse_students(demo_platform, url):
    sign_in(demo_platform.client, *STUDENT)
    assert demo_platform.client.get(url).status_code == 403


def test_staff_forms_refuse_students(demo_platform):
    sign_in(demo_platform.client, *STUDENT)
    answer = post_form(
        demo_platform.client,
        "/",
        "/staff/roster/add",
        {"name": "Mallory", "email": "mallory@example.edu"},
    )
    assert answer.status_code == 403


@pytest.mark.parametrize(
    "url", ["/", "/schedule", "/assignments/A1", "/nodes", "/staff/grades", "/runs", "/account"]
)
def test_every_page_asks_a_visitor_to_sign_in(demo_platform, url):
    answer = demo_platform.client.get(url)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")


def test_a_student_sees_only_their_own_grade(demo_platform, other_group_student):
    sign_in(demo_platform.client, *other_group_student)
    page = demo_platform.client.get("/").text
    assert "Grade so far" in page
    assert "Ada Ng" not in page
    assert demo_platform.client.get("/staff/grades.csv").status_code == 403


def test_a_student_cannot_take_another_groups_hostfile(demo_platform):
    """Reservation 2 joins node-3 and node-4; Ada's group holds node-1."""
    demo_platform.set_clock("2026-03-09T12:00")  # inside reservation 2's window
    sign_in(demo_platform.client, *STUDENT)
    answer = demo_platform.client.get("/nodes/reservations/2/hostfile")
    assert answer.status_code == 403


def test_a_student_cannot_consent_for_another_group(demo_platform):
    sign_in(demo_platform.client, *STUDENT)
    answer = post_form(demo_platform.client, "/nodes", "/nodes/reservations/2/consent")
    assert answer.status_code == 303
    follow = demo_platform.client.get("/nodes")
    assert "only the reservation" in follow.text


def test_a_handed_in_file_is_for_its_group_and_staff_only(demo_platform, other_group_student):
    sign_in(demo_platform.client, *STUDENT)
    answer = post_form(
        demo_platform.client,
        "/assignments/A3",
        "/assignments/A3/submit",
        {
            "integrity_external_code": "none",
            "integrity_sources": "none",
            "integrity_ai_assistance": "none",
        },
        files={"file": ("report.pdf", b"%PDF-1.4 the A3 report", "application/pdf")},
    )
    assert answer.status_code == 303
    page = demo_platform.client.get("/assignments/A3").text
    assert "Submitted A3 (on time)" in page
    link = page.split('href="/uploads/')[1].split('"')[0]
    assert demo_platform.client.get(f"/uploads/{link}").content == b"%PDF-1.4 the A3 report"
    stranger = demo_platform.new_client()
    sign_in(stranger, *other_group_student)
    assert stranger.get(f"/uploads/{link}").status_code == 403
