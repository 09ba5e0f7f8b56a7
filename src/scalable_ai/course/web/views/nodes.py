"""Nodes and multi-node reservations, for students.

Syllabus, Infrastructure: "If your project requires more than one node, you must coordinate
with another team to share nodes for a bounded window of time … multi-node work may require
coordinating host files and access rules across multiple team IPs." A group requests a
window joining its node with others; every owning group consents; inside the window the
page hands out the hostfile (``IP slots=8``), the ``torchrun`` arguments and the firewall
rules (``course.service.nodes.reservation_plan`` refuses them outside it).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from scalable_ai.course.clock import parse_instant
from scalable_ai.course.policy.nodes import firewall_script
from scalable_ai.course.service import nodes as node_service
from scalable_ai.course.service.groups import my_group
from scalable_ai.course.web.visit import Visit, checked_form, open_visit
from scalable_ai.errors import Forbidden, UserError

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]


def reservation_state(row: Any, now: datetime) -> tuple[str, str]:
    """(label, pill style) of a reservation as its groups see it."""
    if row.cancelled_at is not None:
        return "cancelled", "neutral"
    if not row.consented:
        return "waiting for consent", "bad"
    if now < row.starts_at:
        return "agreed, starts later", "neutral"
    if now < row.ends_at:
        return "active now", "ok"
    return "over", "neutral"


def plan_or_none(visit: Visit, row: Any) -> Any:
    """The hostfile and friends, or None outside the window (the service refuses then)."""
    try:
        return node_service.reservation_plan(
            visit.db, visit.actor(), row.id, clock=visit.state.clock
        )
    except (Forbidden, UserError):
        return None


@router.get("/nodes")
def nodes_page(visit: VisitDep) -> Response:
    visit.person()
    actor = visit.actor()
    group = my_group(visit.db, actor)
    nodes = node_service.list_nodes(visit.db, actor)
    owners = {n.id: node_service.node_owner(visit.db, n.id) for n in nodes}
    reservations = sorted(
        node_service.list_reservations(visit.db, actor), key=lambda r: r.starts_at, reverse=True
    )
    return visit.page(
        "nodes.html",
        title="Nodes",
        active="/nodes",
        group=group,
        nodes=nodes,
        owners=owners,
        reservations=[
            (r, reservation_state(r, visit.now), plan_or_none(visit, r)) for r in reservations
        ],
    )


def _instant(form: dict[str, Any], name: str) -> datetime:
    text = str(form.get(name) or "").strip()
    if not text:
        raise UserError("required: a date and time (Berkeley time)", field=name)
    return parse_instant(text, field=name)


@router.post("/nodes/reservations")
def request_reservation(visit: VisitDep, form: FormDep) -> Response:
    visit.person()
    actor = visit.actor()

    def use_case() -> Any:
        group = my_group(visit.db, actor)
        if group is None or group.node_id is None:
            raise UserError(
                "your group needs its own node before it can join others", field="node_ids"
            )
        partners = form.get("partner_node_ids") or []
        partners = partners if isinstance(partners, list) else [partners]
        node_ids = [group.node_id, *(int(p) for p in partners if str(p).isdigit())]
        if len(node_ids) < 2:
            raise UserError("choose at least one partner node", field="partner_node_ids")
        return node_service.request_reservation(
            visit.db,
            actor,
            node_ids=node_ids,
            starts_at=_instant(form, "starts_at"),
            ends_at=_instant(form, "ends_at"),
            purpose=str(form.get("purpose") or ""),
            clock=visit.state.clock,
        )

    return visit.act(
        use_case,
        back="/nodes",
        ok="Reservation requested: the other groups must consent before it grants anything.",
        keep=form,
    )


@router.post("/nodes/reservations/{reservation_id}/consent")
def consent(visit: VisitDep, form: FormDep, reservation_id: int) -> Response:
    visit.person()
    return visit.act(
        lambda: node_service.consent_to_reservation(
            visit.db, visit.actor(), reservation_id, clock=visit.state.clock
        ),
        back="/nodes",
        ok="Your group consented to the reservation.",
    )


@router.post("/nodes/reservations/{reservation_id}/cancel")
def cancel(visit: VisitDep, form: FormDep, reservation_id: int) -> Response:
    visit.person()
    return visit.act(
        lambda: node_service.cancel_reservation(
            visit.db, visit.actor(), reservation_id, clock=visit.state.clock
        ),
        back="/nodes",
        ok="Reservation cancelled.",
    )


@router.get("/nodes/reservations/{reservation_id}/hostfile")
def hostfile(visit: VisitDep, reservation_id: int) -> Response:
    """The hostfile Open MPI and DeepSpeed read, for the active window only."""
    visit.person()
    plan = node_service.reservation_plan(
        visit.db, visit.actor(), reservation_id, clock=visit.state.clock
    )
    return Response(
        plan.hostfile,
        media_type="text/plain; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="hostfile-reservation-{reservation_id}"'
        },
    )


@router.get("/nodes/reservations/{reservation_id}/firewall")
def firewall(visit: VisitDep, reservation_id: int, style: str = "ufw") -> Response:
    visit.person()
    plan = node_service.reservation_plan(
        visit.db, visit.actor(), reservation_id, clock=visit.state.clock
    )
    return Response(
        firewall_script(plan.access_rules, "iptables" if style == "iptables" else "ufw"),
        media_type="text/plain; charset=utf-8",
    )


@router.get("/nodes/{node_id}/authorized_keys")
def authorized_keys(visit: VisitDep, node_id: int) -> Response:
    visit.person()
    body = node_service.authorized_keys(visit.db, visit.actor(), node_id, clock=visit.state.clock)
    return Response(body, media_type="text/plain; charset=utf-8")
