"""The schedule: lectures, recess, assignment releases and deadlines, as events.

Syllabus: "Lectures Tuesdays & Thursdays, 9:30am–11:00am (521 Cory Hall)", six parts
(Architecture → Pre-training → Post-training → Efficient inference → Applications → Research
greenfields), guest lectures marked, Spring Recess with no class, and "Deadlines
(assignments and project milestones) are included directly in the schedule". "Guest
speakers and exact ordering are subject to change": staff move, retitle or swap lectures
with the functions below, which return new values. Every event keeps a stable UID (a
lecture's ``key`` is its identity, not its position) and a change raises its SEQUENCE, so
subscribed calendars update the event instead of duplicating it (RFC 5545 §3.8.7.4).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import StrEnum

from scalable_ai.course.clock import BERKELEY
from scalable_ai.course.policy.late import deadline_at
from scalable_ai.course.policy.milestones import Milestone, MilestoneKind, PresentationSession
from scalable_ai.course.policy.settings import CourseSettings
from scalable_ai.errors import Conflict, NotFound, UserError

# The syllabus's six parts, in order ("This course follows the lifecycle end to end").
PARTS: tuple[str, ...] = (
    "Architecture",
    "Pre-Training of Language Models",
    "Post-Training of Language Models",
    "Efficient Inference",
    "LLM Applications and Use Cases",
    "Research Greenfields",
)

UID_DOMAIN = "scalable-ai.eecs.berkeley.edu"


@dataclass(frozen=True)
class MeetingPattern:
    """When and where lectures meet: "Tuesdays & Thursdays, 9:30am–11:00am (521 Cory Hall)"."""

    weekdays: tuple[int, ...] = (1, 3)  # Monday is 0: Tuesday and Thursday
    starts: time = time(9, 30)
    ends: time = time(11, 0)
    room: str = "521 Cory Hall"


@dataclass(frozen=True)
class Lecture:
    """One lecture. ``key`` ("L1") is its stable identity; ``number`` is its position, which
    staff changes may renumber. ``guest_note`` is the syllabus's Notes column ("AutoModel")."""

    key: str
    number: int
    title: str
    day: date
    part: int
    guest: bool = False
    guest_note: str = ""
    sequence: int = 0

    @property
    def label(self) -> str:
        """The title as the syllabus prints it: "L1. Course Overview and the Modern AI Stack"."""
        return f"L{self.number}. {self.title}"

    @property
    def uid(self) -> str:
        return f"lecture-{self.key}@{UID_DOMAIN}"


@dataclass(frozen=True)
class Assignment:
    """A group assignment: "five group-based assignments, each spanning roughly two to three
    weeks", released and due on the syllabus's dates (due at the course deadline time)."""

    key: str
    title: str
    release: date
    due: date
    sequence: int = 0

    @property
    def number(self) -> int:
        return int(self.key.lstrip("Aa"))


@dataclass(frozen=True)
class Recess:
    """A day with no class ("Spring Recess — No class")."""

    day: date
    title: str = "Spring Recess"


class EventKind(StrEnum):
    LECTURE = "lecture"
    RECESS = "recess"
    RELEASE = "release"
    DEADLINE = "deadline"
    EVENT = "event"  # presentations, poster session, a decision date


@dataclass(frozen=True)
class CourseEvent:
    """One calendar entry. Timed when ``starts_at`` is set (aware datetimes), else all-day
    on ``day``. A deadline is an instant: ``ends_at`` equals ``starts_at``."""

    uid: str
    kind: EventKind
    title: str
    day: date
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    location: str = ""
    description: str = ""
    sequence: int = 0
    part: int | None = None

    @property
    def all_day(self) -> bool:
        return self.starts_at is None


def released_at(release: date, settings: CourseSettings | None = None) -> datetime:
    """The instant an assignment is released: the start of its release day in the course's
    time zone (Berkeley). The syllabus gives release dates only, so the whole day counts;
    nothing is handed in before it."""
    settings = settings or CourseSettings()
    return datetime.combine(release, time(0, 0), tzinfo=settings.zone)


def lecture_event(lecture: Lecture, meeting: MeetingPattern = MeetingPattern()) -> CourseEvent:
    notes = (
        f"Guest ({lecture.guest_note})"
        if lecture.guest and lecture.guest_note
        else ("Guest" if lecture.guest else "")
    )
    return CourseEvent(
        uid=lecture.uid,
        kind=EventKind.LECTURE,
        title=lecture.label,
        day=lecture.day,
        starts_at=datetime.combine(lecture.day, meeting.starts, tzinfo=BERKELEY),
        ends_at=datetime.combine(lecture.day, meeting.ends, tzinfo=BERKELEY),
        location=meeting.room,
        description=notes,
        sequence=lecture.sequence,
        part=lecture.part,
    )


def schedule_events(
    lectures: Iterable[Lecture],
    *,
    assignments: Iterable[Assignment] = (),
    milestones: Iterable[Milestone] = (),
    recess: Iterable[Recess] = (),
    presentations: Iterable[PresentationSession] = (),
    meeting: MeetingPattern = MeetingPattern(),
    settings: CourseSettings | None = None,
) -> list[CourseEvent]:
    """Every event of the semester, in date order: lectures (timed), recess days (all-day),
    assignment releases (all-day) and deadlines (at the deadline time), project milestones
    (deadlines timed, releases and events all-day), presentation sessions (lecture time)."""
    settings = settings or CourseSettings()
    events = [lecture_event(lecture, meeting) for lecture in lectures]
    for day in recess:
        events.append(
            CourseEvent(
                uid=f"recess-{day.day.isoformat()}@{UID_DOMAIN}",
                kind=EventKind.RECESS,
                title=day.title,
                day=day.day,
                description="No class",
            )
        )
    for a in assignments:
        events.append(
            CourseEvent(
                uid=f"release-{a.key}@{UID_DOMAIN}",
                kind=EventKind.RELEASE,
                title=f"{a.key} released ({a.title})",
                day=a.release,
                sequence=a.sequence,
            )
        )
        due = deadline_at(a.due, settings)
        events.append(
            CourseEvent(
                uid=f"deadline-{a.key}@{UID_DOMAIN}",
                kind=EventKind.DEADLINE,
                title=f"{a.key} due ({a.title})",
                day=a.due,
                starts_at=due,
                ends_at=due,
                description=hand_in_where(settings),
                sequence=a.sequence,
            )
        )
    events += [milestone_event(m, settings) for m in milestones if m.in_calendar]
    for session in presentations:
        events.append(
            CourseEvent(
                uid=f"presentations-{session.session}@{UID_DOMAIN}",
                kind=EventKind.EVENT,
                title=f"Project Presentations (Session {session.session})",
                day=session.day,
                starts_at=datetime.combine(session.day, meeting.starts, tzinfo=BERKELEY),
                ends_at=datetime.combine(session.day, meeting.ends, tzinfo=BERKELEY),
                location=meeting.room,
                description=session.notes,
                sequence=session.sequence,
            )
        )
    order = {
        EventKind.LECTURE: 0,
        EventKind.EVENT: 1,
        EventKind.RECESS: 1,
        EventKind.RELEASE: 2,
        EventKind.DEADLINE: 3,
    }
    return sorted(events, key=lambda e: (e.day, order[e.kind], e.title))


def milestone_event(m: Milestone, settings: CourseSettings) -> CourseEvent:
    """A milestone as an event: a deadline at the deadline time, anything else all-day."""
    uid = f"milestone-{m.key}@{UID_DOMAIN}"
    description = "; ".join(part for part in (m.notes, _via(m, settings)) if part)
    if m.kind is MilestoneKind.DEADLINE:
        due = deadline_at(m.day, settings)
        return CourseEvent(
            uid=uid,
            kind=EventKind.DEADLINE,
            title=m.schedule_title,
            day=m.day,
            starts_at=due,
            ends_at=due,
            description=description,
            sequence=m.sequence,
        )
    kind = EventKind.RELEASE if m.kind is MilestoneKind.RELEASE else EventKind.EVENT
    return CourseEvent(
        uid=uid,
        kind=kind,
        title=m.schedule_title,
        day=m.day,
        description=description,
        sequence=m.sequence,
    )


def hand_in_where(settings: CourseSettings) -> str:
    """Where assignments are handed in: on this platform unless the course keeps Gradescope
    (``settings.gradescope_url``)."""
    return "Submit on Gradescope" if settings.gradescope_url else "Hand in on the course platform"


def _via(m: Milestone, settings: CourseSettings) -> str:
    if not m.submit_via:
        return ""
    if "gradescope" in m.submit_via.lower() and not settings.gradescope_url:
        return "Hand in on the course platform"
    return f"Submit on {m.submit_via}"


# --- staff operations ("Guest speakers and exact ordering are subject to change") ----------


def _find(lectures: Sequence[Lecture], key: str) -> Lecture:
    for lecture in lectures:
        if lecture.key == key:
            return lecture
    raise NotFound(f"no lecture {key!r}", field="lecture")


def renumber(before: Sequence[Lecture], after: Sequence[Lecture]) -> tuple[Lecture, ...]:
    """Number ``after`` in date order (L1, L2, …) and raise SEQUENCE on every lecture whose
    title, number or day differs from ``before`` (matched by key), so calendars update."""
    old = {lecture.key: lecture for lecture in before}
    result = []
    for number, lecture in enumerate(sorted(after, key=lambda x: (x.day, x.number)), start=1):
        lecture = dataclasses.replace(lecture, number=number)
        prior = old.get(lecture.key)
        if prior is not None and (prior.day, prior.number, prior.title) != (
            lecture.day,
            lecture.number,
            lecture.title,
        ):
            lecture = dataclasses.replace(lecture, sequence=prior.sequence + 1)
        result.append(lecture)
    return tuple(result)


def check_lecture_day(
    day: date,
    *,
    recess: Iterable[Recess] = (),
    meeting: MeetingPattern = MeetingPattern(),
    term: tuple[date, date] | None = None,
    field: str = "day",
) -> None:
    """A lecture falls on a meeting day (Tue/Thu), not on a recess day, inside the term."""
    if day.weekday() not in meeting.weekdays:
        raise UserError(
            f"{day.isoformat()} is a {day.strftime('%A')}; lectures meet on "
            + " and ".join(_weekday_names(meeting)),
            field=field,
        )
    if any(r.day == day for r in recess):
        raise UserError(f"{day.isoformat()} is a recess day: no class", field=field)
    if term is not None and not term[0] <= day <= term[1]:
        raise UserError(
            f"{day.isoformat()} is outside the term "
            f"({term[0].isoformat()} to {term[1].isoformat()})",
            field=field,
        )


def _weekday_names(meeting: MeetingPattern) -> list[str]:
    names = ["Mondays", "Tuesdays", "Wednesdays", "Thursdays", "Fridays", "Saturdays", "Sundays"]
    return [names[d] for d in meeting.weekdays]


def move_lecture(
    lectures: Sequence[Lecture],
    key: str,
    day: date,
    *,
    recess: Iterable[Recess] = (),
    meeting: MeetingPattern = MeetingPattern(),
    term: tuple[date, date] | None = None,
    occupied: Iterable[date] = (),
) -> tuple[Lecture, ...]:
    """Move one lecture to another meeting day. The day must be free (swap to exchange two;
    ``occupied`` lists days other events hold, e.g. presentation sessions), a Tuesday or
    Thursday, not in recess, inside ``term``; lectures are renumbered in date order."""
    lecture = _find(lectures, key)
    check_lecture_day(day, recess=recess, meeting=meeting, term=term)
    if day in set(occupied):
        raise Conflict(
            f"{day.isoformat()} is taken by another event in the lecture slot", field="day"
        )
    for other in lectures:
        if other.day == day and other.key != key:
            raise Conflict(
                f"{day.isoformat()} already has {other.label}; swap them instead", field="day"
            )
    moved = [dataclasses.replace(x, day=day) if x.key == lecture.key else x for x in lectures]
    return renumber(lectures, moved)


def retitle_lecture(lectures: Sequence[Lecture], key: str, title: str) -> tuple[Lecture, ...]:
    """Give a lecture a new title (a new guest topic); its UID stays, its SEQUENCE rises."""
    _find(lectures, key)
    title = title.strip()
    if not title:
        raise UserError("a lecture needs a title", field="title")
    changed = [dataclasses.replace(x, title=title) if x.key == key else x for x in lectures]
    return renumber(lectures, changed)


def swap_lectures(lectures: Sequence[Lecture], first: str, second: str) -> tuple[Lecture, ...]:
    """Exchange the days of two lectures ("exact ordering is subject to change"). Each keeps
    its UID, title, part and guest flag; both are renumbered and their SEQUENCE rises."""
    a, b = _find(lectures, first), _find(lectures, second)
    if a.key == b.key:
        raise UserError("cannot swap a lecture with itself", field="lecture")
    swapped = []
    for x in lectures:
        if x.key == a.key:
            x = dataclasses.replace(x, day=b.day)
        elif x.key == b.key:
            x = dataclasses.replace(x, day=a.day)
        swapped.append(x)
    return renumber(lectures, swapped)
