"""Loading a course (``sai course init --from spring2026.yaml``) and reading it back as the
policy's :class:`~scalable_ai.course.spec.CourseSpec`, with the staff's later changes to
lectures ("guest speakers and exact ordering are subject to change") applied.

The YAML is validated by :func:`scalable_ai.course.spec.parse_spec` and kept whole (as JSON)
in the course row, so nothing in it is lost; the parts staff edit (lectures, assignment and
milestone dates) are rows of their own.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock
from scalable_ai.course.policy import schedule as rules
from scalable_ai.course.policy.settings import settings_from_dict
from scalable_ai.course.service.actors import Actor, require_staff
from scalable_ai.course.service.course import lecture_by_key, load_course
from scalable_ai.course.spec import CourseSpec, parse_spec
from scalable_ai.course.tables import (
    Assignment,
    CourseRecord,
    Lecture,
    Milestone,
    Node,
    Person,
)
from scalable_ai.errors import Conflict, UserError

STAFF_EMAIL_DOMAIN = "example.edu"  # RFC 2606: staff replace these with real addresses


def json_ready(value: Any) -> Any:
    """YAML data as JSON: dates and times become ISO text (``parse_spec`` reads both)."""
    if isinstance(value, Mapping):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    return value


def staff_email(name: str) -> str:
    """A placeholder address for a staff member named in the syllabus."""
    return ".".join(re.findall(r"[a-z]+", name.lower())) + "@" + STAFF_EMAIL_DOMAIN


def init_course(
    session: Session, actor: Actor, data: Mapping[str, Any], *, clock: Clock
) -> CourseRecord:
    """Load a whole course from spec data (validated first; nothing is stored if it is
    inconsistent): the course and its settings, staff, assignments, milestones, lectures
    and the node pool. A database holds one course; loading a second is refused."""
    require_staff(actor, "load a course")
    data = json_ready(data)
    spec = parse_spec(data)
    if session.scalar(select(CourseRecord.id)) is not None:
        raise Conflict(
            "this database already holds a course; use a fresh database or `sai course import`",
            field="course",
        )
    now = clock.now()
    course = CourseRecord(
        code=spec.course.number,
        title=spec.course.title,
        term=spec.course.term,
        timezone=spec.course.timezone,
        settings=spec.settings.to_dict(),
        spec=data,
        created_at=now,
    )
    session.add(course)
    for member in spec.staff:
        email = staff_email(member.name)
        if session.scalar(select(Person.id).where(Person.email == email)) is None:
            session.add(
                Person(
                    name=member.name,
                    email=email,
                    role="staff",
                    staff_title=_staff_title(member),
                    created_at=now,
                )
            )
    for a in spec.assignments:
        session.add(
            Assignment(
                key=a.key, title=a.title, released_on=a.release, due_on=a.due, sequence=a.sequence
            )
        )
    for m in spec.milestones:
        session.add(
            Milestone(
                key=m.key,
                title=m.title,
                kind=m.kind.value,
                day=m.day,
                last_day=m.last_day,
                notes=m.notes,
                submit_via=m.submit_via,
                project=m.project,
                schedule_title_override=m.schedule_title_override,
                sequence=m.sequence,
            )
        )
    for lec in spec.lectures:
        session.add(
            Lecture(
                key=lec.key,
                number=lec.number,
                held_on=lec.day,
                title=lec.title,
                part=lec.part,
                guest=lec.guest,
                guest_note=lec.guest_note,
                sequence=lec.sequence,
            )
        )
    for n in spec.nodes:
        session.add(Node(name=n.name, external_ip=n.ip, gpus=n.gpus))
    session.flush()
    audit.record(
        session,
        actor,
        "course.init",
        course,
        before=None,
        after={"code": course.code, "term": course.term},
        at=now,
    )
    return course


def _staff_title(member: Any) -> str:
    return ", ".join(part for part in (member.title, member.responsibility or member.role) if part)


def course_spec(session: Session) -> CourseSpec:
    """The course as the policy sees it: the loaded spec with the stored settings, lectures,
    assignment and milestone dates (which staff may have changed since loading)."""
    course = load_course(session)
    spec = parse_spec(course.spec)
    rows = {r.key: r for r in session.scalars(select(Lecture))}
    lectures = tuple(
        sorted(
            (policy_lecture(rows[lec.key]) if lec.key in rows else lec for lec in spec.lectures),
            key=lambda x: (x.day, x.number),
        )
    )
    assignments = {a.key: a for a in session.scalars(select(Assignment))}
    milestones = {m.key: m for m in session.scalars(select(Milestone))}
    return dataclasses.replace(
        spec,
        settings=settings_from_dict(course.settings),
        lectures=lectures,
        assignments=tuple(
            dataclasses.replace(
                a, title=row.title, release=row.released_on, due=row.due_on, sequence=row.sequence
            )
            if (row := assignments.get(a.key))
            else a
            for a in spec.assignments
        ),
        milestones=tuple(
            dataclasses.replace(
                m, title=row.title, day=row.day, last_day=row.last_day, sequence=row.sequence
            )
            if (row := milestones.get(m.key))
            else m
            for m in spec.milestones
        ),
    )


def policy_lecture(row: Lecture) -> rules.Lecture:
    return rules.Lecture(
        key=row.key,
        number=row.number,
        title=row.title,
        day=row.held_on,
        part=row.part,
        guest=row.guest,
        guest_note=row.guest_note,
        sequence=row.sequence,
    )


def _store_lectures(
    session: Session, actor: Actor, changed: tuple[rules.Lecture, ...], action: str, clock: Clock
) -> list[Lecture]:
    rows = {r.key: r for r in session.scalars(select(Lecture))}
    touched = []
    for lec in changed:
        row = rows[lec.key]
        if (row.number, row.held_on, row.title, row.sequence) == (
            lec.number,
            lec.day,
            lec.title,
            lec.sequence,
        ):
            continue
        before = audit.snapshot(row)
        row.number, row.held_on, row.title, row.sequence = (
            lec.number,
            lec.day,
            lec.title,
            lec.sequence,
        )
        audit.record(session, actor, action, row, before=before, at=clock.now())
        touched.append(row)
    return touched


def move_lecture(
    session: Session, actor: Actor, key: str, *, day: date, clock: Clock
) -> list[Lecture]:
    """Staff move a lecture to a free Tuesday/Thursday in the term (not a recess day);
    lectures are renumbered and every changed event's SEQUENCE rises."""
    require_staff(actor, "move lectures")
    lecture_by_key(session, key)
    spec = course_spec(session)
    changed = rules.move_lecture(
        spec.lectures,
        key.strip().upper(),
        day,
        recess=spec.recess,
        meeting=spec.meeting,
        term=spec.term,
    )
    return _store_lectures(session, actor, changed, "lecture.move", clock)


def retitle_lecture(
    session: Session, actor: Actor, key: str, *, title: str, clock: Clock
) -> list[Lecture]:
    require_staff(actor, "retitle lectures")
    lecture_by_key(session, key)
    changed = rules.retitle_lecture(course_spec(session).lectures, key.strip().upper(), title)
    return _store_lectures(session, actor, changed, "lecture.retitle", clock)


def swap_lectures(
    session: Session, actor: Actor, first: str, second: str, *, clock: Clock
) -> list[Lecture]:
    require_staff(actor, "swap lectures")
    lecture_by_key(session, first)
    lecture_by_key(session, second, field="other")
    changed = rules.swap_lectures(
        course_spec(session).lectures, first.strip().upper(), second.strip().upper()
    )
    return _store_lectures(session, actor, changed, "lecture.swap", clock)


def update_settings(
    session: Session, actor: Actor, changes: Mapping[str, Any], *, clock: Clock
) -> CourseRecord:
    """Staff change course settings (deadline time, slack pool, thresholds, cut-offs, ...);
    the whole result is validated by the policy before anything is stored."""
    require_staff(actor, "change course settings")
    course = load_course(session)
    merged = {**course.settings, **json_ready(dict(changes))}
    if merged.get("timezone") != course.timezone:
        raise UserError(f"the course runs in {course.timezone}", field="settings.timezone")
    validated = settings_from_dict(merged)
    before = {"settings": dict(course.settings)}
    course.settings = validated.to_dict()
    audit.record(
        session,
        actor,
        "course.settings",
        course,
        before=before,
        after={"settings": course.settings},
        at=clock.now(),
    )
    return course
