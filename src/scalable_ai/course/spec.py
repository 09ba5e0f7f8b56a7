"""The syllabus as data: load ``seed/spring2026.yaml`` into frozen dataclasses, validated.

``sai course init --from FILE`` reads a course through :func:`load_spec`. A file that
contradicts itself is rejected with a :class:`UserError` naming the field, e.g.
``assignments[2].due: before release``, ``components: weights sum to 95, not 100``,
``lectures[7].key: duplicate lecture L7``, ``lectures[18].date: 2026-03-24 is a recess day``,
``milestones[3].date: 2027-01-01 is outside the term``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from pathlib import Path
from typing import Any

import yaml

from scalable_ai.course.policy.grading import COMPONENTS, Component
from scalable_ai.course.policy.milestones import (
    PROJECT_MILESTONE_KEYS,
    Milestone,
    MilestoneKind,
    PresentationSession,
)
from scalable_ai.course.policy.nodes import Node
from scalable_ai.course.policy.schedule import (
    Assignment,
    CourseEvent,
    Lecture,
    MeetingPattern,
    Recess,
    check_lecture_day,
    schedule_events,
)
from scalable_ai.course.policy.settings import (
    CourseSettings,
    parse_time_of_day,
    settings_from_dict,
)
from scalable_ai.errors import NotFound, UserError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
STAFF_ROLES = ("instructor", "teaching", "infrastructure")


@dataclass(frozen=True)
class CourseInfo:
    number: str
    title: str
    term: str
    year: int
    starts: date
    ends: date
    timezone: str = "America/Los_Angeles"
    grading_basis: str = "letter"
    description: str = ""
    communication: str = ""
    compute: str = ""
    checkoffs: str = ""


@dataclass(frozen=True)
class StaffMember:
    """A member of the teaching staff: ``role`` is instructor, teaching or infrastructure."""

    name: str
    role: str
    title: str = ""
    responsibility: str = ""

    @property
    def display_name(self) -> str:
        return f"{self.title} {self.name}".strip()


@dataclass(frozen=True)
class OfficeHours:
    weekday: int
    starts: time
    ends: time
    location: str = ""
    note: str = ""


@dataclass(frozen=True)
class Resources:
    website: str
    forum: str
    gradescope_code: str


@dataclass(frozen=True)
class Part:
    number: int
    title: str


@dataclass(frozen=True)
class CourseSpec:
    """The whole syllabus as one value."""

    course: CourseInfo
    staff: tuple[StaffMember, ...]
    meeting: MeetingPattern
    office_hours: tuple[OfficeHours, ...]
    resources: Resources
    components: tuple[Component, ...]
    settings: CourseSettings
    parts: tuple[Part, ...]
    assignments: tuple[Assignment, ...]
    milestones: tuple[Milestone, ...]
    presentations: tuple[PresentationSession, ...]
    recess: tuple[Recess, ...]
    lectures: tuple[Lecture, ...]
    nodes: tuple[Node, ...]

    @property
    def term(self) -> tuple[date, date]:
        return (self.course.starts, self.course.ends)

    def lecture(self, key: str) -> Lecture:
        return _by_key(self.lectures, key, "lecture")

    def assignment(self, key: str) -> Assignment:
        return _by_key(self.assignments, key, "assignment")

    def milestone(self, key: str) -> Milestone:
        return _by_key(self.milestones, key, "milestone")

    def part_title(self, number: int) -> str:
        return next(p.title for p in self.parts if p.number == number)

    def events(self) -> list[CourseEvent]:
        """Every lecture, recess day, release, deadline and event, in date order."""
        return schedule_events(
            self.lectures,
            assignments=self.assignments,
            milestones=self.milestones,
            recess=self.recess,
            presentations=self.presentations,
            meeting=self.meeting,
            settings=self.settings,
        )


def _by_key(items: tuple[Any, ...], key: str, what: str) -> Any:
    for item in items:
        if item.key == key:
            return item
    raise NotFound(f"no {what} {key!r}", field=what)


def default_spec_path() -> Path:
    """The Spring 2026 syllabus shipped with the package."""
    return Path(__file__).with_name("seed") / "spring2026.yaml"


def load_spec(path: str | Path | None = None) -> CourseSpec:
    """Read and validate a course YAML file (the shipped Spring 2026 one by default)."""
    path = Path(path) if path is not None else default_spec_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise UserError(f"cannot read {path}: {error.strerror}", field="path") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise UserError(f"{path} is not valid YAML: {error}", field="path") from None
    return parse_spec(data)


# --- reading, one field at a time -------------------------------------------------------


class _Reader:
    """Reads a mapping and names the field (``lectures[3].title``) in every error."""

    def __init__(self, data: Any, path: str) -> None:
        if not isinstance(data, Mapping):
            raise UserError("must be a mapping", field=path or "spec")
        self.data, self.path = data, path

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(self, key: str, default: Any = ...) -> Any:
        if key not in self.data or self.data[key] is None:
            if default is ...:
                raise UserError("required", field=self.where(key))
            return default
        return self.data[key]

    def text(self, key: str, default: Any = ...) -> str:
        value = self.get(key, default)
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise UserError("must be text", field=self.where(key))
        value = str(value).strip()
        if not value and default is ...:
            raise UserError("must not be empty", field=self.where(key))
        return value

    def integer(self, key: str, default: Any = ...) -> int:
        value = self.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise UserError(f"must be a whole number, got {value!r}", field=self.where(key))
        return value

    def number(self, key: str) -> float:
        value = self.get(key)
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise UserError(f"must be a number, got {value!r}", field=self.where(key))
        return float(value)

    def flag(self, key: str, default: bool = False) -> bool:
        value = self.get(key, default)
        if not isinstance(value, bool):
            raise UserError("must be true or false", field=self.where(key))
        return value

    def day(self, key: str, default: Any = ...) -> date:
        value = self.get(key, default)
        if value is None or isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            raise UserError(f"not a date (YYYY-MM-DD): {value!r}", field=self.where(key)) from None

    def clock(self, key: str) -> time:
        return parse_time_of_day(self.get(key), field=self.where(key))

    def weekday(self, value: Any, field: str) -> int:
        if str(value).strip().lower() not in WEEKDAYS:
            raise UserError(f"not a weekday: {value!r}", field=field)
        return WEEKDAYS.index(str(value).strip().lower())

    def items(self, key: str, default: Any = ...) -> list[_Reader]:
        value = self.get(key, default)
        if not isinstance(value, list):
            raise UserError("must be a list", field=self.where(key))
        return [_Reader(item, f"{self.where(key)}[{i}]") for i, item in enumerate(value)]


def parse_spec(data: Any) -> CourseSpec:
    """Validate plain data (as read from YAML) into a :class:`CourseSpec`."""
    root = _Reader(data, "")
    known = {
        "course",
        "staff",
        "lectures_meet",
        "office_hours",
        "resources",
        "components",
        "settings",
        "parts",
        "assignments",
        "milestones",
        "presentations",
        "recess",
        "lectures",
        "nodes",
    }
    for key in root.data:
        if key not in known:
            raise UserError("unknown section", field=str(key))
    course = _course(_Reader(root.get("course"), "course"))
    settings = settings_from_dict(root.get("settings", {}))
    if settings.timezone != course.timezone:
        raise UserError(
            f"differs from course.timezone ({course.timezone})", field="settings.timezone"
        )
    spec = CourseSpec(
        course=course,
        staff=tuple(_staff(r) for r in root.items("staff")),
        meeting=_meeting(_Reader(root.get("lectures_meet"), "lectures_meet")),
        office_hours=tuple(_office_hours(r) for r in root.items("office_hours", [])),
        resources=_resources(_Reader(root.get("resources"), "resources")),
        components=_components(root.items("components")),
        settings=settings,
        parts=tuple(Part(r.integer("number"), r.text("title")) for r in root.items("parts")),
        assignments=tuple(_assignment(r) for r in root.items("assignments")),
        milestones=tuple(_milestone(r) for r in root.items("milestones")),
        presentations=tuple(
            PresentationSession(r.text("session"), r.day("date"), r.text("notes", ""))
            for r in root.items("presentations", [])
        ),
        recess=tuple(
            Recess(r.day("date"), r.text("title", "Spring Recess"))
            for r in root.items("recess", [])
        ),
        lectures=tuple(_lecture(r) for r in root.items("lectures")),
        nodes=tuple(_node(r) for r in root.items("nodes")),
    )
    check_spec(spec)
    return spec


def _course(r: _Reader) -> CourseInfo:
    info = CourseInfo(
        number=r.text("number"),
        title=r.text("title"),
        term=r.text("term"),
        year=r.integer("year"),
        starts=r.day("starts"),
        ends=r.day("ends"),
        timezone=r.text("timezone", "America/Los_Angeles"),
        grading_basis=r.text("grading_basis", "letter"),
        description=r.text("description", ""),
        communication=r.text("communication", ""),
        compute=r.text("compute", ""),
        checkoffs=r.text("checkoffs", ""),
    )
    if info.ends < info.starts:
        raise UserError("before course.starts", field="course.ends")
    if info.grading_basis != "letter":
        raise UserError(
            "letter grade only: the course may not be taken P/NP", field="course.grading_basis"
        )
    return info


def _staff(r: _Reader) -> StaffMember:
    role = r.text("role")
    if role not in STAFF_ROLES:
        raise UserError(f"one of {', '.join(STAFF_ROLES)}, got {role!r}", field=r.where("role"))
    return StaffMember(r.text("name"), role, r.text("title", ""), r.text("responsibility", ""))


def _meeting(r: _Reader) -> MeetingPattern:
    days = r.get("weekdays")
    if not isinstance(days, list) or not days:
        raise UserError("a list of weekdays", field=r.where("weekdays"))
    weekdays = tuple(r.weekday(d, f"{r.where('weekdays')}[{i}]") for i, d in enumerate(days))
    meeting = MeetingPattern(
        weekdays=weekdays, starts=r.clock("starts"), ends=r.clock("ends"), room=r.text("room")
    )
    if meeting.ends <= meeting.starts:
        raise UserError("before lectures_meet.starts", field=r.where("ends"))
    return meeting


def _office_hours(r: _Reader) -> OfficeHours:
    hours = OfficeHours(
        r.weekday(r.get("weekday"), r.where("weekday")),
        r.clock("starts"),
        r.clock("ends"),
        r.text("location", ""),
        r.text("note", ""),
    )
    if hours.ends <= hours.starts:
        raise UserError("before starts", field=r.where("ends"))
    return hours


def _resources(r: _Reader) -> Resources:
    resources = Resources(r.text("website"), r.text("forum"), r.text("gradescope_code"))
    for key in ("website", "forum"):
        if not getattr(resources, key).startswith("https://"):
            raise UserError("must be an https:// URL", field=r.where(key))
    return resources


def _components(readers: list[_Reader]) -> tuple[Component, ...]:
    result = []
    for r in readers:
        parts = tuple(
            Component(p.text("key"), p.text("title"), p.number("weight"))
            for p in r.items("parts", [])
        )
        component = Component(r.text("key"), r.text("title"), r.number("weight"), parts)
        if parts and abs(sum(p.weight for p in parts) - component.weight) > 1e-9:
            raise UserError(
                f"parts sum to {sum(p.weight for p in parts):g}, not {component.weight:g}",
                field=r.where("parts"),
            )
        result.append(component)
    total = sum(c.weight for c in result)
    if abs(total - 100) > 1e-9:
        raise UserError(f"weights sum to {total:g}, not 100", field="components")
    expected = {c.key: c.weight for top in COMPONENTS for c in (top, *top.parts)}
    found = {c.key: c.weight for top in result for c in (top, *top.parts)}
    if found != expected:
        raise UserError(
            "must be the syllabus's components: "
            + ", ".join(f"{k} {w:g}" for k, w in expected.items()),
            field="components",
        )
    return tuple(result)


def _assignment(r: _Reader) -> Assignment:
    a = Assignment(r.text("key"), r.text("title"), r.day("release"), r.day("due"))
    if a.due < a.release:
        raise UserError("before release", field=r.where("due"))
    return a


def _milestone(r: _Reader) -> Milestone:
    try:
        kind = MilestoneKind(r.text("kind", "deadline"))
    except ValueError:
        raise UserError("one of release, deadline, event", field=r.where("kind")) from None
    m = Milestone(
        key=r.text("key"),
        title=r.text("title"),
        day=r.day("date"),
        kind=kind,
        notes=r.text("notes", ""),
        submit_via=r.text("submit_via", ""),
        last_day=r.day("last_day", None),
        project=r.flag("project", True),
        schedule_title_override=r.text("schedule_title", ""),
        in_calendar=r.flag("calendar", True),
    )
    if m.last_day is not None and m.last_day < m.day:
        raise UserError("before date", field=r.where("last_day"))
    return m


def _lecture(r: _Reader) -> Lecture:
    key = r.text("key")
    if not key.startswith("L") or not key[1:].isdigit():
        raise UserError(f"a lecture key is L<number>, got {key!r}", field=r.where("key"))
    return Lecture(
        key=key,
        number=int(key[1:]),
        title=r.text("title"),
        day=r.day("date"),
        part=r.integer("part"),
        guest=r.flag("guest"),
        guest_note=r.text("guest_note", ""),
    )


def _node(r: _Reader) -> Node:
    try:
        return Node(r.text("name"), r.text("ip"), r.integer("gpus", 8))
    except UserError as error:
        raise UserError(error.message, field=r.where(error.field or "ip")) from None


# --- checks across fields -----------------------------------------------------------------


def _unique(values: list[Any], section: str, field: str, what: str) -> None:
    seen: set[Any] = set()
    for i, value in enumerate(values):
        if value in seen:
            raise UserError(f"duplicate {what} {value}", field=f"{section}[{i}].{field}")
        seen.add(value)


def _in_term(spec: CourseSpec, day: date, field: str) -> None:
    starts, ends = spec.term
    if not starts <= day <= ends:
        raise UserError(
            f"{day.isoformat()} is outside the term ({starts.isoformat()} to {ends.isoformat()})",
            field=field,
        )


def check_spec(spec: CourseSpec) -> None:
    """Checks that need more than one field: unique keys, dates inside the term, lectures on
    meeting days and never on a recess day, every project milestone present, the node pool."""
    if spec.course.starts.year != spec.course.year:
        raise UserError(f"the term starts in {spec.course.starts.year}", field="course.year")
    if not any(s.role == "instructor" for s in spec.staff):
        raise UserError("at least one instructor", field="staff")
    _unique([p.number for p in spec.parts], "parts", "number", "part")
    _unique([a.key for a in spec.assignments], "assignments", "key", "assignment")
    _unique([m.key for m in spec.milestones], "milestones", "key", "milestone")
    _unique([r.day for r in spec.recess], "recess", "date", "recess day")
    _unique([p.session for p in spec.presentations], "presentations", "session", "session")
    _unique([lec.key for lec in spec.lectures], "lectures", "key", "lecture")
    _unique([lec.day for lec in spec.lectures], "lectures", "date", "lecture day")
    _unique([n.name for n in spec.nodes], "nodes", "name", "node")
    _unique([n.ip for n in spec.nodes], "nodes", "ip", "IP address")
    recess = {r.day for r in spec.recess}
    parts = {p.number for p in spec.parts}
    for i, r in enumerate(spec.recess):
        _in_term(spec, r.day, f"recess[{i}].date")
    for i, a in enumerate(spec.assignments):
        _in_term(spec, a.release, f"assignments[{i}].release")
        _in_term(spec, a.due, f"assignments[{i}].due")
    for i, m in enumerate(spec.milestones):
        _in_term(spec, m.day, f"milestones[{i}].date")
        if m.last_day is not None:
            _in_term(spec, m.last_day, f"milestones[{i}].last_day")
    keys = {m.key for m in spec.milestones}
    for key in PROJECT_MILESTONE_KEYS:
        if key not in keys:
            raise UserError(f"the project milestone {key!r} is missing", field="milestones")
    for i, p in enumerate(spec.presentations):
        _in_term(spec, p.day, f"presentations[{i}].date")
        if p.day in recess:
            raise UserError(
                f"{p.day.isoformat()} is a recess day", field=f"presentations[{i}].date"
            )
    for i, lec in enumerate(spec.lectures):
        where = f"lectures[{i}]"
        check_lecture_day(
            lec.day, recess=spec.recess, meeting=spec.meeting, term=spec.term, field=f"{where}.date"
        )
        if lec.part not in parts:
            raise UserError(f"no part {lec.part}", field=f"{where}.part")
    by_date = sorted(spec.lectures, key=lambda lec: lec.day)
    for number, lec in enumerate(by_date, start=1):
        if lec.number != number:
            i = spec.lectures.index(lec)
            raise UserError(
                f"{lec.key} is lecture {number} in date order; number lectures L1, L2, ... by date",
                field=f"lectures[{i}].key",
            )
    if len(spec.nodes) != spec.settings.node_pool_size:
        raise UserError(
            f"{len(spec.nodes)} nodes listed but the node pool has {spec.settings.node_pool_size}",
            field="nodes",
        )
    for i, n in enumerate(spec.nodes):
        if n.gpus != spec.settings.gpus_per_node:
            raise UserError(
                f"each node has {spec.settings.gpus_per_node} GPUs", field=f"nodes[{i}].gpus"
            )
