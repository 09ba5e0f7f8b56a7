"""Every course setting, with the syllabus's values as defaults.

The syllabus fixes some numbers ("3 total slack days", "groups of 4–6", "8 total nodes",
the component weights) and leaves others to the staff (the time of day of a deadline, the
weight of each assignment part, the satisfactory thresholds, the letter cut-offs). Both kinds
live here, in one frozen value, so a rule never hides a number of its own. Scores are
percentages in ``[0, 100]`` everywhere in the course.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import time
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scalable_ai.errors import UserError


class SlackPool(StrEnum):
    """Whose slack days a late group assignment spends.

    ``per_student`` (default): "you have 3 total slack days" is read per student; a group's
    slack day is charged to every member. ``per_group``: the group shares one pool of 3.
    """

    PER_STUDENT = "per_student"
    PER_GROUP = "per_group"


@dataclass(frozen=True)
class AssignmentPartWeights:
    """How an assignment's core score blends its three graded parts (syllabus: "How
    assignments are graded": code grading, written component, oral checkoff). The syllabus
    gives no split; these defaults are a course setting. They must sum to 1."""

    code: float = 0.5
    written: float = 0.3
    checkoff: float = 0.2


@dataclass(frozen=True)
class SatisfactoryThresholds:
    """The lowest score (percent) that counts as satisfactory, per component and for each
    assignment's core score ("You must do every component satisfactorily")."""

    project: float = 60.0
    assignments: float = 60.0
    scribing: float = 60.0
    participation: float = 60.0
    assignment_core: float = 60.0


@dataclass(frozen=True)
class LetterCutoff:
    """A letter and the lowest weighted total (percent) that earns it."""

    letter: str
    minimum: float


DEFAULT_LETTER_CUTOFFS: tuple[LetterCutoff, ...] = tuple(
    LetterCutoff(letter, minimum)
    for letter, minimum in (
        ("A+", 97),
        ("A", 93),
        ("A-", 90),
        ("B+", 87),
        ("B", 83),
        ("B-", 80),
        ("C+", 77),
        ("C", 73),
        ("C-", 70),
        ("D+", 67),
        ("D", 63),
        ("D-", 60),
        ("F", 0),
    )
)


@dataclass(frozen=True)
class CourseSettings:
    """The course's settings. Defaults are the syllabus (or, where it is silent, a stated
    staff choice). Construct with keywords; invalid values raise :class:`UserError` naming
    the field (``settings.group_size_min``)."""

    # "The syllabus gives dates only": the time of day of every deadline is a setting.
    deadline_time: time = time(23, 59)
    timezone: str = "America/Los_Angeles"
    # "You have 3 total slack days ... At most one slack day may be applied to any single
    # assignment. Slack days extend the deadline by 24 hours."
    slack_days_total: int = 3
    slack_days_per_assignment: int = 1
    slack_day_hours: int = 24
    slack_pool: SlackPool = SlackPool.PER_STUDENT
    # "Groups of 4–6."
    group_size_min: int = 4
    group_size_max: int = 6
    assignment_part_weights: AssignmentPartWeights = field(default_factory=AssignmentPartWeights)
    # "Technical Quality ... will incorporate peer feedback as well as the teaching staff
    # feedback": the peers' share of the technical score (staff get the rest).
    peer_review_weight: float = 0.2
    satisfactory: SatisfactoryThresholds = field(default_factory=SatisfactoryThresholds)
    letter_cutoffs: tuple[LetterCutoff, ...] = DEFAULT_LETTER_CUTOFFS
    # "8 total nodes on GCP ... one H100 node (8×H100) per group."
    node_pool_size: int = 8
    gpus_per_node: int = 8
    # torchrun's c10d rendezvous port on the first node of a reservation.
    rendezvous_port: int = 29400
    # A multi-node reservation is "a bounded window of time": its longest allowed length.
    reservation_max_hours: int = 72
    # "Each student is expected to scribe 2 lectures."
    scribe_lectures_per_student: int = 2
    # Where things happen (issue 13: the site said Ed and Gradescope while the platform has
    # its own Q&A and hand-ins). Empty: on this platform. The syllabus's Ed course and
    # Gradescope are kept as settings an instructor switches on by giving their https URL;
    # then every page, the schedule and the footer say so.
    ed_url: str = ""
    gradescope_url: str = ""
    # Sign-in as universities do it (issue 13): with it on, passwords no longer sign anyone in
    # on the web; only the institution's OpenID Connect provider does (SAI_OIDC_ISSUER).
    require_oidc: bool = False

    def __post_init__(self) -> None:
        validate_settings(self)

    @property
    def zone(self) -> ZoneInfo:
        """The course's time zone (Berkeley)."""
        return ZoneInfo(self.timezone)

    def replace(self, **changes: Any) -> CourseSettings:
        """A copy with ``changes`` applied (validated like a new value)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (times as ``HH:MM``), the inverse of :func:`settings_from_dict`."""
        data = dataclasses.asdict(self)
        data["deadline_time"] = self.deadline_time.strftime("%H:%M")
        data["slack_pool"] = self.slack_pool.value
        data["letter_cutoffs"] = [[c.letter, c.minimum] for c in self.letter_cutoffs]
        return data


def _fail(name: str, reason: str) -> UserError:
    return UserError(reason, field=f"settings.{name}")


# The longest an hour-valued setting may be: a year. A reservation is "a bounded window of
# time" and a slack day extends a deadline by hours, both inside one semester; without a bound
# a large value overflows Python's timedelta (about 2.4e10 hours) instead of being refused.
MAX_SETTING_HOURS = 366 * 24
# TCP ports are 16-bit; torchrun's rendezvous endpoint must be one.
MAX_PORT = 65535


def _is_whole_number(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A real number (an int, or a float that is not NaN or infinite); bools are not numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def _require_fraction(name: str, value: Any, *, low: float, high: float, what: str) -> None:
    if not _is_number(value) or not low <= value <= high:
        raise _fail(name, f"must be {what} between {low:g} and {high:g}, got {value!r}")


def validate_settings(s: CourseSettings) -> None:
    """Reject settings that no rule could apply, naming the field. Wrongly typed values
    (a text where a number belongs, ``None`` for the time zone) are refused here too, so
    every caller gets a :class:`UserError` rather than a ``TypeError`` from deep in a rule."""
    if not isinstance(s.timezone, str):
        raise _fail("timezone", f"must be a time zone name, got {s.timezone!r}")
    for name in ("ed_url", "gradescope_url"):
        value = getattr(s, name)
        if not isinstance(value, str) or (value and not value.startswith("https://")):
            raise _fail(name, "must be empty (on this platform) or an https:// link")
    if not isinstance(s.require_oidc, bool):
        raise _fail("require_oidc", "must be true or false")
    try:
        ZoneInfo(s.timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise _fail("timezone", f"unknown time zone {s.timezone!r}") from None
    if not isinstance(s.deadline_time, time):
        raise _fail("deadline_time", "must be a time of day (HH:MM)")
    if s.deadline_time.tzinfo is not None:
        raise _fail(
            "deadline_time",
            "give the time of day without a zone; the course's timezone setting applies",
        )
    for name in (
        "slack_days_total",
        "slack_days_per_assignment",
        "slack_day_hours",
        "group_size_min",
        "group_size_max",
        "node_pool_size",
        "gpus_per_node",
        "rendezvous_port",
        "reservation_max_hours",
        "scribe_lectures_per_student",
    ):
        value = getattr(s, name)
        if not _is_whole_number(value) or value < 0:
            raise _fail(name, f"must be a whole number >= 0, got {value!r}")
    for name in (
        "slack_day_hours",
        "group_size_min",
        "node_pool_size",
        "gpus_per_node",
        "reservation_max_hours",
        "rendezvous_port",
    ):
        if getattr(s, name) < 1:
            raise _fail(name, "must be at least 1")
    for name in ("slack_day_hours", "reservation_max_hours"):
        if getattr(s, name) > MAX_SETTING_HOURS:
            raise _fail(
                name,
                f"must be at most {MAX_SETTING_HOURS} hours (366 days): it "
                "bounds a window inside the semester",
            )
    if s.rendezvous_port > MAX_PORT:
        raise _fail("rendezvous_port", f"must be a TCP port (at most {MAX_PORT})")
    if s.slack_days_per_assignment > s.slack_days_total:
        raise _fail("slack_days_per_assignment", "cannot exceed slack_days_total")
    if s.group_size_max < s.group_size_min:
        raise _fail("group_size_max", f"must be >= group_size_min ({s.group_size_min})")
    if not isinstance(s.slack_pool, SlackPool):
        raise _fail("slack_pool", "must be 'per_student' or 'per_group'")
    w = s.assignment_part_weights
    if not isinstance(w, AssignmentPartWeights):
        raise _fail("assignment_part_weights", "must give code, written and checkoff weights")
    for part in ("code", "written", "checkoff"):
        _require_fraction(
            f"assignment_part_weights.{part}", getattr(w, part), low=0, high=1, what="a weight"
        )
    if abs(w.code + w.written + w.checkoff - 1) > 1e-9:
        raise _fail("assignment_part_weights", "code + written + checkoff must sum to 1")
    _require_fraction("peer_review_weight", s.peer_review_weight, low=0, high=1, what="a weight")
    if not isinstance(s.satisfactory, SatisfactoryThresholds):
        raise _fail("satisfactory", "must give a threshold per component")
    for f in dataclasses.fields(SatisfactoryThresholds):
        _require_fraction(
            f"satisfactory.{f.name}",
            getattr(s.satisfactory, f.name),
            low=0,
            high=100,
            what="a percentage",
        )
    _validate_cutoffs(s.letter_cutoffs)


def _validate_cutoffs(cutoffs: tuple[LetterCutoff, ...]) -> None:
    if not isinstance(cutoffs, tuple) or not cutoffs:
        raise _fail("letter_cutoffs", "needs at least one letter")
    for cutoff in cutoffs:
        if (
            not isinstance(cutoff, LetterCutoff)
            or not isinstance(cutoff.letter, str)
            or not cutoff.letter.strip()
        ):
            raise _fail("letter_cutoffs", "each entry is a letter and a minimum percent")
        _require_fraction(
            "letter_cutoffs",
            cutoff.minimum,
            low=0,
            high=100,
            what=f"the minimum for {cutoff.letter!r}: a percentage",
        )
    minimums = [c.minimum for c in cutoffs]
    if minimums != sorted(minimums, reverse=True) or len(set(minimums)) != len(minimums):
        raise _fail("letter_cutoffs", "minimums must be strictly decreasing")
    if minimums[-1] != 0:
        raise _fail("letter_cutoffs", "the last letter must start at 0 so every total has one")
    letters = [c.letter for c in cutoffs]
    if len(set(letters)) != len(letters):
        raise _fail("letter_cutoffs", "a letter appears twice")
    if any(c.letter.upper() in {"P", "NP", "S", "U"} for c in cutoffs):
        raise _fail("letter_cutoffs", "letter grade only: P/NP and S/U are not grades here")


def settings_from_dict(data: Mapping[str, Any] | None) -> CourseSettings:
    """Build settings from plain data (YAML/JSON); unknown keys and wrongly typed values are
    a :class:`UserError` naming the field."""
    if data is not None and not isinstance(data, Mapping):
        raise UserError("course settings must map setting names to values", field="settings")
    data = dict(data or {})
    known = {f.name for f in dataclasses.fields(CourseSettings)}
    for key in data:
        if key not in known:
            raise _fail(str(key), "unknown course setting")
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key == "deadline_time":
            kwargs[key] = _parse_time(value)
        elif key == "slack_pool":
            try:
                kwargs[key] = SlackPool(value)
            except (TypeError, ValueError):
                raise _fail(key, "must be 'per_student' or 'per_group'") from None
        elif key == "assignment_part_weights":
            kwargs[key] = _nested(AssignmentPartWeights, key, value)
        elif key == "satisfactory":
            kwargs[key] = _nested(SatisfactoryThresholds, key, value)
        elif key == "letter_cutoffs":
            kwargs[key] = _parse_cutoffs(value)
        else:
            kwargs[key] = value
    return CourseSettings(**kwargs)


MINUTES_PER_DAY = 24 * 60


def parse_time_of_day(value: Any, *, field: str) -> time:
    """A time of day from YAML or JSON: ``"23:59"``, or the whole number of minutes YAML 1.1
    reads an unquoted ``23:59`` as (sexagesimal). Anything else is a :class:`UserError`
    naming ``field``. The course's settings and its spec (lecture hours) both read times so."""
    if isinstance(value, time):
        return value
    if _is_whole_number(value) and 0 <= value < MINUTES_PER_DAY:
        return time(value // 60, value % 60)
    if isinstance(value, str):
        try:
            return time.fromisoformat(value)
        except ValueError:
            pass
    raise UserError(f"not a time of day (HH:MM): {value!r}", field=field)


def _parse_time(value: Any) -> time:
    return parse_time_of_day(value, field="settings.deadline_time")


def _as_float(name: str, value: Any) -> float:
    """A number from plain data as a float (ranges are checked by :func:`validate_settings`)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(name, f"must be a number, got {value!r}")
    try:
        return float(value)
    except OverflowError:
        raise _fail(name, f"must be a number in range, got {value!r}") from None


def _nested(kind: type, name: str, value: Any) -> Any:
    if not isinstance(value, Mapping):
        raise _fail(name, "must be a mapping")
    known = {f.name for f in dataclasses.fields(kind)}
    for key in value:
        if key not in known:
            raise _fail(f"{name}.{key}", "unknown setting")
    return kind(**{k: _as_float(f"{name}.{k}", v) for k, v in value.items()})


def _parse_cutoffs(value: Any) -> tuple[LetterCutoff, ...]:
    if isinstance(value, Mapping):
        pairs = list(value.items())
    elif isinstance(value, list | tuple):
        pairs = list(value)
    else:
        raise _fail("letter_cutoffs", "must map letters to minimum totals")
    cutoffs = []
    for pair in pairs:
        if not isinstance(pair, list | tuple) or len(pair) != 2 or not isinstance(pair[0], str):
            raise _fail(
                "letter_cutoffs", f"each entry is a letter and a minimum percent, got {pair!r}"
            )
        cutoffs.append(LetterCutoff(pair[0], _as_float("letter_cutoffs", pair[1])))
    return tuple(cutoffs)
