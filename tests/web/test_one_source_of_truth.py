"""One source of truth (issue 13): "/course says 'Please only use Ed for all discussions',
the schedule says 'Submit on Gradescope', every footer says 'Questions go on Ed', yet the
platform has its own Q&A and hand-ins. The sign-in page does not link to the public course
site." Ed and Gradescope stay as course settings an instructor can switch on."""

from __future__ import annotations

import re

from scalable_ai.course.db import unit_of_work
from scalable_ai.course.demo import DEMO_CREDENTIALS
from scalable_ai.course.service.setup import update_settings
from tests.web.conftest import STAFF_TOOL, sign_in

STUDENT = next(c for c in DEMO_CREDENTIALS if c[0] == "student")


def test_every_page_says_questions_and_hand_ins_happen_on_this_platform(demo_platform):
    client = demo_platform.client
    site = client.get("/course").text
    assert "Please only use Ed" not in site and "through Gradescope" not in site
    assert "announced on Ed" not in site  # the office hours' location (the syllabus says Ed)
    assert 'location announced on the <a href="/qa">Q&amp;A</a>' in site
    assert 'href="/qa">Q&amp;A</a>' in site
    sign_in_page = client.get("/sign-in").text
    assert 'href="/course" id="public-site"' in sign_in_page and "Ask on Ed" not in sign_in_page
    sign_in(client, *STUDENT[1:])
    for url in ("/", "/assignments", "/schedule?view=all"):
        page = client.get(url).text
        assert "Questions go on this platform's" in page and "edstem" not in page, url
    schedule = client.get("/schedule?view=all").text
    assert "Submit on Gradescope" not in schedule and "Hand in on the course platform" in schedule


def test_an_instructor_who_keeps_ed_and_gradescope_switches_them_on_in_the_settings(
    demo_platform,
):
    with unit_of_work(demo_platform.engine) as session:
        update_settings(
            session,
            STAFF_TOOL,
            {
                "ed_url": "https://edstem.org/us/courses/93630",
                "gradescope_url": "https://www.gradescope.com/courses/1",
            },
            clock=demo_platform.clock,
        )
    site = demo_platform.client.get("/course").text
    assert 'href="https://edstem.org/us/courses/93630"' in site and "Gradescope entry code" in site
    assert "location announced on Ed" in site
    sign_in(demo_platform.client, *STUDENT[1:])
    page = demo_platform.client.get("/").text
    # Stored links go through link_to (rel="noopener noreferrer nofollow"), as every link does.
    assert re.search(
        r'Questions go on <a href="https://edstem.org/us/courses/93630"[^>]*>Ed</a>', page
    )
    assert re.search(r'on <a href="https://www.gradescope.com/courses/1"[^>]*>Gradescope</a>', page)
