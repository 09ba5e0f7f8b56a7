"""The deadline reminder (issue 13): 24 hours before the deadline that applies to a student
(their exception's, or the due time plus a day once a slack day is applied), if their group
has not handed in, with the slack days they have left. Driven by the course clock, so a
pinned demo clock reminds as the semester would; told once per deadline (a moved deadline
reminds again)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from scalable_ai.course.clock import BERKELEY, Clock, in_words
from scalable_ai.course.notify.events import notify
from scalable_ai.course.service.actors import Actor
from scalable_ai.course.service.slack import slack_balance
from scalable_ai.course.service.submissions import assignment_statuses
from scalable_ai.course.tables import Person

AHEAD = timedelta(hours=24)


def remind_deadlines(session: Session, *, clock: Clock) -> int:
    """Remind every active student whose deadline falls in the next 24 hours and who has
    not handed in; returns how many reminders were new."""
    now = clock.now()
    today = now.astimezone(BERKELEY).date()
    staff = Actor.local_staff("notifications")
    told = 0
    students = session.scalars(
        select(Person).where(Person.active, Person.role == "student").order_by(Person.id)
    ).all()
    for person in students:
        due_soon = [
            s
            for s in assignment_statuses(session, staff, person.id)
            if s.assignment.released_on <= today
            and now < s.deadline <= now + AHEAD
            and s.submission is None
        ]
        if not due_soon:
            continue
        left = slack_balance(session, staff, person.id).left
        for status in due_soon:
            a = status.assignment
            days = f"{left} slack day{'s' if left != 1 else ''} left"
            extra = (
                "a slack day is already applied"
                if status.slack_day_applied
                else f"you have {days}; a slack day moves it by 24 hours"
            )
            told += notify(
                session,
                [person.id],
                kind="deadline",
                title=f"{a.key} is due {in_words(status.deadline)}",
                body=f"Your group has not handed in {a.key} ({a.title}) yet; {extra}.",
                link=f"/assignments/{a.key}",
                key=f"deadline:{a.key}:{status.deadline.isoformat()}",
                at=now,
            )
    return told
