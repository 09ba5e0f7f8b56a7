"""The course clock: the one source of "now" for every rule.

``SAI_NOW`` (an ISO 8601 time; a naive one is read as Berkeley time) pins the clock for a
whole process, so a demo of the Spring 2026 course can stand mid-semester although the real
date is later. Tests pass a :class:`FixedClock` explicitly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from scalable_ai.errors import UserError

BERKELEY = ZoneInfo("America/Los_Angeles")


class Clock:
    """The wall clock. Subclasses pin it."""

    pinned = False

    def now(self) -> datetime:
        return datetime.now(UTC)


@dataclass
class FixedClock(Clock):
    at: datetime
    pinned = True

    def now(self) -> datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        from datetime import timedelta

        self.at = self.at + timedelta(**delta)


def parse_instant(text: str, *, field: str = "SAI_NOW") -> datetime:
    """Parse an ISO time; naive times are Berkeley local time. Returns an aware datetime."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"not an ISO 8601 time: {text!r}", field=field) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=BERKELEY)
    return value


def in_words(value: datetime | date) -> str:
    """A time as a student reads it, in Berkeley time: ``Mon Mar 9, 8:00 AM`` (a date:
    ``Mon Mar 9``). Refusals use it instead of ISO/UTC text ("node-3 is already reserved from
    2026-03-09T16:00:00+00:00" was what students read, issue 13)."""
    if not isinstance(value, datetime):
        return value.strftime("%a %b %-d")
    local = value.astimezone(BERKELEY) if value.tzinfo else value.replace(tzinfo=BERKELEY)
    return local.strftime("%a %b %-d, %-I:%M %p")


def clock_from_env() -> Clock:
    """``SAI_NOW`` pins the clock for this process; otherwise the wall clock."""
    from scalable_ai.settings import get_settings

    text = get_settings().now
    return FixedClock(parse_instant(text)) if text else Clock()
