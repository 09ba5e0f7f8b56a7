"""Groups, invitations, nodes and multi-node reservations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from scalable_ai.course.api.context import SignedIn
from scalable_ai.course.api.schemas import (
    AccessRuleOut,
    GroupIn,
    GroupOut,
    GroupProposalIn,
    Id,
    InvitationAnswerIn,
    InvitationIn,
    InvitationOut,
    MoveIn,
    NodeOut,
    NodePatch,
    PersonOut,
    ReservationIn,
    ReservationOut,
    ReservationPlanOut,
)
from scalable_ai.course.service import groups, nodes

router = APIRouter(tags=["groups and nodes"])
PathId = Annotated[Id, Path()]


@router.get(
    "/groups", response_model=list[GroupOut], summary="Every group (staff) or your own (students)"
)
def list_groups(call: SignedIn) -> object:
    return groups.list_groups(call.session, call.actor)


@router.post(
    "/groups",
    response_model=GroupOut,
    status_code=201,
    summary="Start a group (students, before the formation deadline)",
)
def create_group(call: SignedIn, body: GroupIn) -> object:
    return groups.create_group(call.session, call.actor, name=body.name, clock=call.clock)


@router.post(
    "/groups/propose",
    response_model=GroupOut,
    status_code=201,
    summary="Propose a group of 4–6 students (staff)",
)
def propose_group(call: SignedIn, body: GroupProposalIn) -> object:
    return groups.propose_group(
        call.session, call.actor, name=body.name, member_ids=body.member_ids, clock=call.clock
    )


@router.get("/groups/{group_id}", response_model=GroupOut)
def show_group(call: SignedIn, group_id: PathId) -> object:
    return groups.show_group(call.session, call.actor, group_id)


@router.post(
    "/groups/{group_id}/confirm",
    response_model=GroupOut,
    summary="Confirm a group and assign its node (staff)",
)
def confirm_group(call: SignedIn, group_id: PathId) -> object:
    return groups.confirm_group(call.session, call.actor, group_id, clock=call.clock)


@router.post("/groups/{group_id}/leave", response_model=GroupOut)
def leave_group(call: SignedIn, group_id: PathId) -> object:
    return groups.leave_group(call.session, call.actor, group_id, clock=call.clock)


@router.post("/groups/{group_id}/invitations", response_model=InvitationOut, status_code=201)
def invite(call: SignedIn, group_id: PathId, body: InvitationIn) -> object:
    return groups.invite_to_group(
        call.session, call.actor, group_id, person_id=body.person_id, clock=call.clock
    )


@router.get(
    "/invitations",
    response_model=list[InvitationOut],
    summary="Invitations waiting for your answer",
)
def pending_invitations(call: SignedIn) -> object:
    return groups.pending_invitations(call.session, call.actor)


@router.post("/invitations/{invitation_id}/answer", response_model=InvitationOut)
def answer_invitation(call: SignedIn, invitation_id: PathId, body: InvitationAnswerIn) -> object:
    return groups.answer_invitation(
        call.session, call.actor, invitation_id, accept=body.accept, clock=call.clock
    )


@router.post(
    "/people/{person_id}/move",
    response_model=PersonOut,
    summary="Move a student to another group, or out of every group (staff)",
)
def move_student(call: SignedIn, person_id: PathId, body: MoveIn) -> object:
    return groups.move_student(
        call.session, call.actor, person_id, to_group_id=body.group_id, clock=call.clock
    )


@router.get("/nodes", response_model=list[NodeOut], summary="The node pool")
def list_nodes(call: SignedIn) -> object:
    return nodes.list_nodes(call.session, call.actor)


@router.patch(
    "/nodes/{node_id}", response_model=NodeOut, summary="Record a node's static IP (staff)"
)
def set_node_ip(call: SignedIn, node_id: PathId, body: NodePatch) -> object:
    return nodes.set_node_ip(
        call.session, call.actor, node_id, ip=body.external_ip, clock=call.clock
    )


@router.get(
    "/nodes/{node_id}/authorized_keys",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
    summary="The node's authorized_keys (its group, and partners during a reservation)",
)
def authorized_keys(call: SignedIn, node_id: PathId) -> Response:
    text = nodes.authorized_keys(call.session, call.actor, node_id, clock=call.clock)
    return Response(text, media_type="text/plain")


@router.get("/reservations", response_model=list[ReservationOut])
def list_reservations(call: SignedIn) -> object:
    return nodes.list_reservations(call.session, call.actor)


@router.post(
    "/reservations",
    response_model=ReservationOut,
    status_code=201,
    summary="Ask to join nodes for a bounded window",
)
def request_reservation(call: SignedIn, body: ReservationIn) -> object:
    return nodes.request_reservation(
        call.session,
        call.actor,
        node_ids=body.node_ids,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        purpose=body.purpose,
        clock=call.clock,
    )


@router.get("/reservations/{reservation_id}", response_model=ReservationOut)
def show_reservation(call: SignedIn, reservation_id: PathId) -> object:
    return nodes.get_reservation(call.session, call.actor, reservation_id)


@router.post("/reservations/{reservation_id}/consent", response_model=ReservationOut)
def consent(call: SignedIn, reservation_id: PathId) -> object:
    return nodes.consent_to_reservation(call.session, call.actor, reservation_id, clock=call.clock)


@router.post("/reservations/{reservation_id}/cancel", response_model=ReservationOut)
def cancel(call: SignedIn, reservation_id: PathId) -> object:
    return nodes.cancel_reservation(call.session, call.actor, reservation_id, clock=call.clock)


@router.get(
    "/reservations/{reservation_id}/plan",
    response_model=ReservationPlanOut,
    summary="Hostfile, torchrun arguments and firewall rules (inside the window)",
)
def plan(call: SignedIn, reservation_id: PathId) -> object:
    result = nodes.reservation_plan(call.session, call.actor, reservation_id, clock=call.clock)
    return ReservationPlanOut(
        reservation=result.reservation,
        hostfile=result.hostfile,
        torchrun_args=result.torchrun_args,
        torchrun_command=result.torchrun_command,
        access_rules=[
            AccessRuleOut(
                node=r.node,
                node_ip=r.node_ip,
                source_ip=r.source_ip,
                source_node=r.source_node,
                until=r.until,
                ufw=r.ufw(),
                iptables=r.iptables(),
            )
            for r in result.access_rules
        ],
    )
