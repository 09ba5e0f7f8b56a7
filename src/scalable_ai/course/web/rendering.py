"""Jinja templates and the filters the pages share: Berkeley times, countdowns, percentages.

Every time on a page is shown in Berkeley time, as the syllabus states its schedule
("Tuesdays & Thursdays, 9:30am–11:00am"), whatever the server's zone.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from scalable_ai.course.clock import BERKELEY
from scalable_ai.course.links import safe_href

TEMPLATES_DIR = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def berkeley(value: datetime | date | str | None, style: str = "full") -> str:
    """``Tue Feb 10, 11:59 PM`` (``full``), ``Feb 10`` (``day``) or ``11:59 PM`` (``time``)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):  # an ISO time from a file (a run's started_at, in UTC)
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        local = value.astimezone(BERKELEY) if value.tzinfo else value.replace(tzinfo=BERKELEY)
    else:
        return value.strftime("%a %b %-d") if style != "iso" else value.isoformat()
    if style == "day":
        return local.strftime("%a %b %-d")
    if style == "time":
        return local.strftime("%-I:%M %p")
    if style == "iso":
        return local.isoformat()
    return local.strftime("%a %b %-d, %-I:%M %p")


def when(value: datetime | None) -> Markup:
    """A time in Berkeley time inside ``<time datetime=…>``, so ``static/site.js`` can add
    "your time: …" when the browser's zone is not Berkeley's (issue 13)."""
    if value is None:
        return Markup("—")
    local = value if value.tzinfo else value.replace(tzinfo=BERKELEY)
    return Markup('<time datetime="{}">{}</time>').format(
        local.astimezone(BERKELEY).isoformat(), berkeley(local)
    )


def countdown(until: datetime | None, now: datetime) -> str:
    """``in 2 days 4 h``, ``in 35 min`` or ``3 h ago``: how far a deadline is from the clock."""
    if until is None:
        return ""
    if until.tzinfo is None:
        until = until.replace(tzinfo=BERKELEY)
    delta = until - now
    past = delta < timedelta(0)
    delta = abs(delta)
    days, rest = divmod(int(delta.total_seconds()), 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        text = f"{days} day{'s' if days != 1 else ''} {hours} h"
    elif hours:
        text = f"{hours} h {minutes} min"
    else:
        text = f"{minutes} min"
    return f"{text} ago" if past else f"in {text}"


def percent(value: float | None, digits: int = 1) -> str:
    """0.875 → ``87.5%``; None → ``—`` (not graded yet)."""
    if value is None:
        return "—"
    return f"{value * 100:.{digits}f}%"


def link_to(url: str | None, text: str | None = None) -> Markup:
    """A stored link as an anchor (``rel=noopener noreferrer``) when it is an http(s) link or
    one of our uploads; any other text (a ``javascript:`` link stored before links were
    checked) is shown as plain, inert text. Every template shows a user's link this way."""
    label = escape(text if text is not None else (url or ""))
    href = safe_href(url)
    if href is None:
        return (
            Markup(
                f'<span class="refused-link" title="not an http(s) link: not opened">{label}</span>'
            )
            if url
            else Markup("")
        )
    return Markup(f'<a href="{escape(href)}" rel="noopener noreferrer nofollow">{label}</a>')


def make_environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates ship with the package and change only with it: no file-system check of
        # every template a page extends or includes on each render.
        auto_reload=False,
    )
    env.filters["berkeley"] = berkeley
    env.filters["percent"] = percent
    env.filters["when"] = when
    env.globals["countdown"] = countdown
    env.globals["link_to"] = link_to
    return env


def render_template(env: Environment, name: str, context: dict[str, Any]) -> str:
    return env.get_template(name).render(**context)
