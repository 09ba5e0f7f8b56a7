"""Q&A, announcements and infrastructure tickets: who sees what (pure rules).

Syllabus: "All course questions must be posted on Ed ... We answer, announce, and archive on
Ed only", and for infrastructure: "post on Ed (include timestamps, job IDs, logs, and a short
repro description)". The platform is that single channel:

- a thread has a category (lecture, A1–A5, project, infrastructure);
- a **private** thread is seen only by its author and the staff;
- an **anonymous** post hides its author from classmates, never from staff (nor the author);
- staff may **endorse** an answer; staff post **announcements**, shown on every dashboard;
- an infrastructure thread is a **ticket**: the node, when it happened, job IDs, logs and a
  short repro are required, and its status moves open → acknowledged → resolved (staff may
  reopen a resolved ticket; the node board counts open tickets per node).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from scalable_ai.course.policy.roster import clean_name
from scalable_ai.errors import Conflict, UserError

# "general" (issue 13: Ed has one; a logistics question had nowhere to go) comes first.
CATEGORIES: tuple[str, ...] = (
    "general",
    "lecture",
    "A1",
    "A2",
    "A3",
    "A4",
    "A5",
    "project",
    "infrastructure",
)
CATEGORY_LABELS = {
    "general": "General",
    "lecture": "Lectures",
    "A1": "A1 Parallelism",
    "A2": "A2 Pre-Training",
    "A3": "A3 Post-Training",
    "A4": "A4 Inference and Serving",
    "A5": "A5 Applications",
    "project": "Research project",
    "infrastructure": "Infrastructure",
}
ANONYMOUS = "Anonymous"
TITLE_MAX = 200
BODY_MAX = 20_000


class TicketStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


# Who may move a ticket where: staff acknowledge and resolve; staff may reopen.
TICKET_MOVES: dict[TicketStatus, tuple[TicketStatus, ...]] = {
    TicketStatus.OPEN: (TicketStatus.ACKNOWLEDGED, TicketStatus.RESOLVED),
    TicketStatus.ACKNOWLEDGED: (TicketStatus.RESOLVED, TicketStatus.OPEN),
    TicketStatus.RESOLVED: (TicketStatus.OPEN,),
}


def check_category(category: str) -> str:
    if category not in CATEGORIES:
        raise UserError(f"category must be one of {', '.join(CATEGORIES)}", field="category")
    return category


def check_title(title: str) -> str:
    return clean_name(title, what="a title", field="title", limit=TITLE_MAX)


def check_body(body: str, field: str = "body") -> str:
    body = (body or "").strip()
    if not body:
        raise UserError("write something", field=field)
    if len(body) > BODY_MAX:
        raise UserError(f"at most {BODY_MAX} characters", field=field)
    return body


@dataclass(frozen=True)
class Viewer:
    """Who is looking: a person id (``None`` for the local staff tool) and whether staff."""

    person_id: int | None
    is_staff: bool


def can_see_thread(viewer: Viewer, *, author_id: int | None, private: bool) -> bool:
    """A private question is seen by its author and the staff only; everything else by all."""
    return (
        viewer.is_staff or not private or (author_id is not None and viewer.person_id == author_id)
    )


def shown_author(
    viewer: Viewer, *, author_id: int | None, author_name: str, anonymous: bool
) -> str:
    """The name a viewer sees on a post: anonymous posts read "Anonymous" to classmates and
    keep the name for staff (marked) and for the author themself."""
    if not anonymous:
        return author_name
    if viewer.is_staff:
        return f"{author_name} (anonymous to classmates)"
    if author_id is not None and viewer.person_id == author_id:
        return f"{author_name} (you, anonymous to classmates)"
    return ANONYMOUS


@dataclass(frozen=True)
class TicketDetails:
    """What an infrastructure ticket must say (the syllabus's list, plus the node)."""

    node: str
    occurred_at: datetime
    job_ids: str
    logs: str
    repro: str


def check_ticket(details: TicketDetails, *, now: datetime) -> TicketDetails:
    """Every field is required; the time it happened cannot be in the future."""
    if not details.node.strip():
        raise UserError("name the node the problem is on", field="node")
    if details.occurred_at.tzinfo is None:
        raise UserError("give the time with its zone", field="occurred_at")
    if details.occurred_at > now:
        raise UserError("the time it happened is in the future", field="occurred_at")
    for name, label in (
        ("job_ids", "the job IDs (or 'none' for an interactive session)"),
        ("logs", "the relevant log lines"),
        ("repro", "a short repro"),
    ):
        value = getattr(details, name).strip()
        if not value:
            raise UserError(f"include {label}", field=name)
        if len(value) > BODY_MAX:
            raise UserError(f"at most {BODY_MAX} characters", field=name)
    return TicketDetails(
        details.node.strip(),
        details.occurred_at,
        details.job_ids.strip(),
        details.logs.strip(),
        details.repro.strip(),
    )


def move_ticket(current: str, to: str) -> TicketStatus:
    """The next status, or a :class:`Conflict` naming the allowed moves."""
    try:
        target, now = TicketStatus(to), TicketStatus(current)
    except ValueError:
        raise UserError("status must be open, acknowledged or resolved", field="status") from None
    if target not in TICKET_MOVES[now]:
        allowed = ", ".join(TICKET_MOVES[now])
        raise Conflict(f"a {now} ticket can move to: {allowed}", field="status")
    return target
