"""The demo course's community side: seeded through the service layer at any course clock,
consistent with it (nothing happens before its time), on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from scalable_ai.course.clock import BERKELEY, FixedClock
from scalable_ai.course.community.demo import seed_community_demo
from scalable_ai.course.demo import seed_demo
from scalable_ai.course.tables.community import (
    Attendance,
    ForumThread,
    QuestionnaireResponse,
    ScribeNote,
)


@pytest.mark.parametrize("now", [datetime(2026, 3, 5, 10, tzinfo=BERKELEY),
                                 datetime(2026, 5, 20, 12, tzinfo=BERKELEY)])
def test_the_demo_seeds_at_any_course_clock_and_nothing_happens_early(empty_session, now):
    clock = FixedClock(now)
    seed_demo(empty_session, clock)
    seed_community_demo(empty_session, clock)
    latest = max(empty_session.scalars(select(ForumThread.created_at)), default=None)
    assert latest is None or latest <= now
    answered = empty_session.scalar(select(func.count(QuestionnaireResponse.id)))
    assert answered == 40
    assert empty_session.scalar(select(func.count(Attendance.id))) > 0
    assert empty_session.scalar(select(func.count(ScribeNote.id))) > 0
