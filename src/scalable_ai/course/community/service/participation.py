"""The participation ledger: attendance per lecture (staff mark or check-in with the lecture's
code), staff credits for in-class contributions, and each student's summary feeding the 10%
attendance-and-participation component (rules in :mod:`..participation_rules`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, bindparam, func, select
from sqlalchemy.orm import Session

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock
from scalable_ai.course.community import participation_rules as rules
from scalable_ai.course.service.actors import (
    Actor,
    acting_person,
    get_person,
    require_self_or_staff,
    require_staff,
)
from scalable_ai.course.service.course import course_today, lecture_by_key, settings_of
from scalable_ai.course.service.setup import course_spec
from scalable_ai.course.tables import Lecture, Person
from scalable_ai.course.tables.community import (
    Attendance,
    ForumPost,
    ForumThread,
    LectureCheckIn,
    NoteComment,
    ParticipationCredit,
)
from scalable_ai.errors import Conflict, Forbidden, NotFound, UserError

# Check-in stays open for half an hour after the lecture ends (the course's meeting pattern,
# "Tuesdays & Thursdays, 9:30am–11:00am") unless staff say otherwise.
CHECK_IN_GRACE = timedelta(minutes=30)


def open_check_in(
    session: Session,
    actor: Actor,
    lecture_key: str,
    *,
    clock: Clock,
    opens_at: datetime | None = None,
    closes_at: datetime | None = None,
) -> LectureCheckIn:
    """Staff open check-in for a lecture and get the code to show in the room (a new code
    each time it is opened)."""
    require_staff(actor, "open lecture check-in")
    lecture = lecture_by_key(session, lecture_key)
    zone = settings_of(session).zone
    opens_at = opens_at or clock.now()
    if closes_at is None:
        lecture_ends = course_spec(session).meeting.ends
        end = datetime.combine(lecture.held_on, lecture_ends, tzinfo=zone) + CHECK_IN_GRACE
        closes_at = end if end > opens_at else opens_at + CHECK_IN_GRACE
    rules.check_window(opens_at, closes_at)
    row = session.scalar(select(LectureCheckIn).where(LectureCheckIn.lecture_id == lecture.id))
    before = audit.snapshot(row)
    if row is None:
        row = LectureCheckIn(lecture_id=lecture.id, code="", opens_at=opens_at, closes_at=closes_at)
        session.add(row)
    row.code, row.opens_at, row.closes_at = rules.new_check_in_code(), opens_at, closes_at
    row.opened_by_id = actor.person_id
    audit.record(session, actor, "attendance.open", row, before=before, at=clock.now())
    return row


def check_in_code(session: Session, actor: Actor, lecture_key: str) -> LectureCheckIn | None:
    """The open check-in of a lecture with its code (staff only: the code is shown in class)."""
    require_staff(actor, "see check-in codes")
    lecture = lecture_by_key(session, lecture_key)
    return session.scalar(select(LectureCheckIn).where(LectureCheckIn.lecture_id == lecture.id))


def _record(
    session: Session, actor: Actor, lecture: Lecture, person: Person, source: str, clock: Clock
) -> Attendance:
    row = session.scalar(
        select(Attendance).where(
            Attendance.lecture_id == lecture.id, Attendance.person_id == person.id
        )
    )
    if row is not None:
        return row
    row = Attendance(
        lecture_id=lecture.id,
        person_id=person.id,
        source=source,
        marked_at=clock.now(),
        marked_by_id=actor.person_id,
    )
    session.add(row)
    audit.record(session, actor, f"attendance.{source}", row, before=None, at=clock.now())
    return row


def check_in(
    session: Session, actor: Actor, lecture_key: str, *, code: str, clock: Clock
) -> Attendance:
    """A student checks in with the code shown in the lecture while check-in is open."""
    me = acting_person(session, actor)
    if me.role != "student":
        raise Forbidden("only students check in to lectures")
    lecture = lecture_by_key(session, lecture_key)
    window = session.scalar(select(LectureCheckIn).where(LectureCheckIn.lecture_id == lecture.id))
    if window is None:
        raise Conflict(f"check-in for {lecture.key} is not open", field="code")
    rules.check_in(
        given=code,
        code=window.code,
        opens_at=window.opens_at,
        closes_at=window.closes_at,
        now=clock.now(),
    )
    return _record(session, actor, lecture, me, "check-in", clock)


def mark_attendance(
    session: Session, actor: Actor, lecture_key: str, person_ids: Sequence[int], *, clock: Clock
) -> list[Attendance]:
    """Staff mark students present (a student who forgot to check in, or a whole roll)."""
    require_staff(actor, "mark attendance")
    lecture = lecture_by_key(session, lecture_key)
    marked = []
    for pid in person_ids:
        person = get_person(session, pid, field="people")
        if person.role != "student":
            raise UserError(f"{person.email} is not a student", field="people")
        marked.append(_record(session, actor, lecture, person, "staff", clock))
    return marked


def unmark_attendance(
    session: Session, actor: Actor, lecture_key: str, person_id: int, *, clock: Clock
) -> None:
    require_staff(actor, "correct attendance")
    lecture = lecture_by_key(session, lecture_key)
    row = session.scalar(
        select(Attendance).where(
            Attendance.lecture_id == lecture.id, Attendance.person_id == person_id
        )
    )
    if row is None:
        raise NotFound("that student is not marked present", field="person")
    audit.record(
        session,
        actor,
        "attendance.remove",
        row,
        before=audit.snapshot(row),
        after=None,
        at=clock.now(),
    )
    session.delete(row)


def attendance_of(session: Session, actor: Actor, lecture_key: str) -> Sequence[Attendance]:
    require_staff(actor, "see a lecture's attendance")
    lecture = lecture_by_key(session, lecture_key)
    return session.scalars(
        select(Attendance).where(Attendance.lecture_id == lecture.id).order_by(Attendance.person_id)
    ).all()


def credit(
    session: Session, actor: Actor, person_id: int, *, kind: str, note: str = "", clock: Clock
) -> ParticipationCredit:
    """Staff credit a contribution the platform cannot see ("contributing to in-class
    discussions and project check-ins")."""
    require_staff(actor, "credit participation")
    person = get_person(session, person_id)
    if person.role != "student":
        raise UserError(f"{person.email} is not a student", field="person")
    if kind not in rules.CREDIT_KINDS:
        raise UserError(f"kind must be one of {', '.join(rules.CREDIT_KINDS)}", field="kind")
    row = ParticipationCredit(
        person_id=person.id,
        kind=kind,
        note=note.strip()[:2000],
        credited_at=clock.now(),
        credited_by_id=actor.person_id,
    )
    session.add(row)
    audit.record(session, actor, "participation.credit", row, before=None, at=clock.now())
    return row


def _held(session: Session, clock: Clock) -> ColumnElement[bool]:
    """A lecture has been held once its day has come on the course clock."""
    return Lecture.held_on <= course_today(session, clock)


def lectures_held(session: Session, clock: Clock) -> Sequence[Lecture]:
    return session.scalars(
        select(Lecture).where(_held(session, clock)).order_by(Lecture.held_on, Lecture.number)
    ).all()


def summary(
    session: Session,
    actor: Actor,
    person_id: int,
    *,
    clock: Clock,
    rule: rules.ParticipationRule | None = None,
) -> rules.ParticipationSummary:
    """One student's ledger summed up with the component score (the student or staff)."""
    require_self_or_staff(actor, person_id, "see participation")
    get_person(session, person_id)
    return ledger_summary(session, person_id, clock=clock, rule=rule)


_HELD = select(Lecture.id).where(Lecture.held_on <= bindparam("today"))
# The lectures held and the five counts in one round trip, each a scalar subquery; built
# once, as the dashboard's running grade reads it on every load.
_COUNTS = select(
    select(func.count()).select_from(_HELD.subquery()).scalar_subquery(),
    select(func.count(Attendance.id))
    .where(Attendance.person_id == bindparam("person_id"), Attendance.lecture_id.in_(_HELD))
    .scalar_subquery(),
    select(func.count(ForumThread.id))
    .where(ForumThread.author_id == bindparam("person_id"), ForumThread.announcement.is_(False))
    .scalar_subquery(),
    select(func.count(ForumPost.id))
    .where(ForumPost.author_id == bindparam("person_id"))
    .scalar_subquery(),
    select(func.count(NoteComment.id))
    .where(NoteComment.author_id == bindparam("person_id"))
    .scalar_subquery(),
    select(func.count(ParticipationCredit.id))
    .where(ParticipationCredit.person_id == bindparam("person_id"))
    .scalar_subquery(),
)


def ledger_summary(
    session: Session, person_id: int, *, clock: Clock, rule: rules.ParticipationRule | None = None
) -> rules.ParticipationSummary:
    """The summary without a permission check: the running grade reads it for a student
    whose grade the caller may already see (``service.grades``)."""
    counts = session.execute(
        _COUNTS, {"person_id": person_id, "today": course_today(session, clock)}
    ).one()
    held_count, attended, questions, answers, comments, credits = (int(n or 0) for n in counts)
    return rules.summarize_participation(
        person_id,
        lectures_held=held_count,
        lectures_attended=attended,
        questions=questions,
        answers=answers,
        note_comments=comments,
        staff_credits=credits,
        rule=rule,
    )


def class_summary(
    session: Session, actor: Actor, *, clock: Clock
) -> list[tuple[Person, rules.ParticipationSummary]]:
    """Every active student's summary (staff), for the grade book's participation column."""
    require_staff(actor, "see the class's participation")
    students = session.scalars(
        select(Person)
        .where(Person.role == "student", Person.active.is_(True))
        .order_by(Person.name)
    ).all()
    return [(p, summary(session, actor, p.id, clock=clock)) for p in students]


def record_in_grade_book(session: Session, actor: Actor, *, clock: Clock) -> int:
    """Write every active student's participation score, with its note, as the grade book's
    ``participation`` item (the 10% attendance-and-participation component); returns how
    many were written. Staff run it when they want the grade to reflect the ledger."""
    from scalable_ai.course.service.grades import record_score

    rows = class_summary(session, actor, clock=clock)
    for person, result in rows:
        record_score(
            session,
            actor,
            person_id=person.id,
            item="participation",
            points=result.score,
            comment=result.note,
            source="participation ledger",
            clock=clock,
        )
    return len(rows)
