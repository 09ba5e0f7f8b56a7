"""Staff pages, part two: the node allocation board and the slack-day ledger with
exceptions (the grade book is ``views.gradebook``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy import select

from scalable_ai.course.clock import parse_instant
from scalable_ai.course.service import groups as group_service
from scalable_ai.course.service import nodes as node_service
from scalable_ai.course.service import people as people_service
from scalable_ai.course.service import slack as slack_service
from scalable_ai.course.tables import Assignment
from scalable_ai.course.web.views.nodes import reservation_state
from scalable_ai.course.web.visit import Visit, checked_form, open_visit
from scalable_ai.errors import UserError

router = APIRouter(prefix="/staff")
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]
BOARD_DAYS_BEFORE, BOARD_DAYS_AFTER = 2, 12  # the timeline: a fortnight around today


@router.get("/nodes")
def node_board(visit: VisitDep) -> Response:
    visit.staff()
    actor = visit.actor()
    nodes = node_service.list_nodes(visit.db, actor)
    owners = {n.id: node_service.node_owner(visit.db, n.id) for n in nodes}
    reservations = node_service.list_reservations(visit.db, actor)
    start = visit.now - timedelta(days=BOARD_DAYS_BEFORE)
    span = timedelta(days=BOARD_DAYS_BEFORE + BOARD_DAYS_AFTER).total_seconds()

    def position(row: Any) -> tuple[float, float] | None:
        left = (row.starts_at - start).total_seconds() / span
        right = (row.ends_at - start).total_seconds() / span
        if right <= 0 or left >= 1:
            return None
        left, right = max(left, 0.0), min(right, 1.0)
        return round(left * 100, 2), round(max(right - left, 0.004) * 100, 2)

    lanes: dict[int, list[tuple[Any, tuple[float, float]]]] = {n.id: [] for n in nodes}
    for row in reservations:
        if row.cancelled_at is not None:
            continue
        where = position(row)
        if where is not None:
            for entry in row.nodes:
                lanes[entry.node_id].append((row, where))
    days = [(start + timedelta(days=i)) for i in range(BOARD_DAYS_BEFORE + BOARD_DAYS_AFTER)]
    return visit.page(
        "staff/nodes.html",
        title="Node board",
        active="/staff/nodes",
        nodes=nodes,
        owners=owners,
        lanes=lanes,
        days=days,
        now_left=round(BOARD_DAYS_BEFORE / (BOARD_DAYS_BEFORE + BOARD_DAYS_AFTER) * 100, 2),
        reservations=[
            (r, reservation_state(r, visit.now))
            for r in sorted(reservations, key=lambda r: r.starts_at, reverse=True)
        ],
    )


@router.post("/nodes/{node_id}/health")
def node_health(visit: VisitDep, form: FormDep, node_id: int) -> Response:
    """Mark a node down (with the reason) or back up; its groups are notified."""
    visit.staff()
    down = form.get("down") != "no"
    return visit.act(
        lambda: node_service.set_node_down(
            visit.db,
            visit.actor(),
            node_id,
            down=down,
            reason=str(form.get("reason") or ""),
            clock=visit.state.clock,
        ),
        back="/staff/nodes",
        ok=lambda n: f"{n.name} marked {'down' if down else 'up'}; its groups are notified.",
    )


@router.post("/nodes/reservations/{reservation_id}/cancel")
def staff_cancel(visit: VisitDep, form: FormDep, reservation_id: int) -> Response:
    """Staff cancel any reservation (issue 13: the node board was read-only)."""
    visit.staff()
    return visit.act(
        lambda: node_service.cancel_reservation(
            visit.db, visit.actor(), reservation_id, clock=visit.state.clock
        ),
        back="/staff/nodes",
        ok=lambda r: f"Reservation {r.id} cancelled: it grants nothing now.",
    )


@router.post("/nodes/reservations/{reservation_id}/override")
def staff_override(visit: VisitDep, form: FormDep, reservation_id: int) -> Response:
    """Staff grant a reservation without waiting for consent, with a reason."""
    visit.staff()
    return visit.act(
        lambda: node_service.override_consent(
            visit.db,
            visit.actor(),
            reservation_id,
            reason=str(form.get("reason") or ""),
            clock=visit.state.clock,
        ),
        back="/staff/nodes",
        ok=lambda r: f"Reservation {r.id} granted by staff without waiting for consent.",
        keep={f"reason-{reservation_id}": form.get("reason")},
    )


@router.get("/slack")
def slack_page(visit: VisitDep) -> Response:
    visit.staff()
    actor = visit.actor()
    people = {p.id: p for p in people_service.list_people(visit.db, actor)}
    groups = group_service.list_groups(visit.db, actor)
    assignments = visit.db.scalars(select(Assignment).order_by(Assignment.key)).all()
    return visit.page(
        "staff/slack.html",
        title="Slack days",
        active="/staff/slack",
        ledger=list(reversed(slack_service.slack_ledger(visit.db, actor))),
        people=people,
        group_names={g.id: g.name for g in groups},
        groups=groups,
        assignment_keys={a.id: a.key for a in assignments},
        assignments=assignments,
        exceptions=list(reversed(slack_service.list_exceptions(visit.db, actor))),
        students=[p for p in people.values() if p.role == "student"],
    )


@router.post("/slack/{use_id}/reverse")
def reverse(visit: VisitDep, form: FormDep, use_id: int) -> Response:
    """Reverse a slack day. A group's slack day is charged to every member, so reversing
    one row reverses them all: that needs the "whole group" box ticked, or the page says who
    would get the day back and asks (issue 13: one click reversed five students' days)."""
    visit.staff()

    def use_case() -> Any:
        affected = slack_service.spending_of(visit.db, visit.actor(), use_id)
        if len(affected) > 1 and form.get("whole_group") != "yes":
            names = ", ".join(
                p.name
                for p in (
                    people_service.show_person(visit.db, visit.actor(), u.person_id)
                    for u in affected
                )
            )
            raise UserError(
                f"this slack day was spent by the group, so reversing it gives it back to all "
                f'{len(affected)} members ({names}); tick "whole group" to confirm',
                field="whole_group",
            )
        return slack_service.reverse_slack_day(
            visit.db,
            visit.actor(),
            use_id,
            reason=str(form.get("reason") or ""),
            clock=visit.state.clock,
        )

    return visit.act(
        use_case,
        back="/staff/slack",
        ok=lambda rows: f"Slack day reversed for {len(rows)} student(s).",
        keep={f"reason-{use_id}": form.get("reason")},
    )


@router.post("/exceptions")
def grant(visit: VisitDep, form: FormDep) -> Response:
    visit.staff()
    subject = str(form.get("subject") or "")

    def use_case() -> Any:
        kind, _, ident = subject.partition(":")
        if kind not in ("person", "group") or not ident.isdigit():
            raise UserError("choose a student or a group", field="subject")
        text = str(form.get("new_deadline") or "").strip()
        if not text:
            raise UserError("required: the new deadline (Berkeley time)", field="new_deadline")
        return slack_service.grant_exception(
            visit.db,
            visit.actor(),
            person_id=int(ident) if kind == "person" else None,
            group_id=int(ident) if kind == "group" else None,
            assignment=str(form.get("assignment") or "") or None,
            new_deadline=parse_instant(text, field="new_deadline"),
            reason=str(form.get("reason") or ""),
            clock=visit.state.clock,
            shorten=form.get("shorten") == "yes",
        )

    return visit.act(use_case, back="/staff/slack", ok="Exception approved.", keep=form)


@router.post("/exceptions/{exception_id}/revoke")
def revoke(visit: VisitDep, form: FormDep, exception_id: int) -> Response:
    visit.staff()
    return visit.act(
        lambda: slack_service.revoke_exception(
            visit.db, visit.actor(), exception_id, clock=visit.state.clock
        ),
        back="/staff/slack",
        ok="Exception revoked.",
    )
