"""Group formation: start a group, invite, accept or decline, leave — before the formation
deadline ("Group formation: Jan 29"; "Groups of 4–6"). The rules live in
``course.service.groups``; this page only shows them and reports their refusals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from scalable_ai.course.service import groups as group_service
from scalable_ai.course.service.actors import get_group
from scalable_ai.course.service.course import formation_deadline, settings_of
from scalable_ai.course.service.people import find_by_email
from scalable_ai.course.web.visit import Visit, checked_form, open_visit
from scalable_ai.errors import NotFound

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]


@router.get("/group")
def my_group_page(visit: VisitDep) -> Response:
    visit.person()
    actor = visit.actor()
    settings = settings_of(visit.db)
    group = group_service.my_group(visit.db, actor)
    invitations = group_service.pending_invitations(visit.db, actor)
    invited_groups = {i.group_id: get_group(visit.db, i.group_id) for i in invitations}
    return visit.page(
        "group.html",
        title="Group",
        active="/group",
        group=group,
        invitations=invitations,
        invited_groups=invited_groups,
        deadline=formation_deadline(visit.db, settings),
        size_min=settings.group_size_min,
        size_max=settings.group_size_max,
    )


@router.post("/group/create")
def create_group(visit: VisitDep, form: FormDep) -> Response:
    visit.person()
    return visit.act(
        lambda: group_service.create_group(
            visit.db, visit.actor(), name=str(form.get("name") or ""), clock=visit.state.clock
        ),
        back="/group",
        ok=lambda g: f"Group {g.name} started: invite your teammates.",
    )


@router.post("/group/{group_id}/invite")
def invite(visit: VisitDep, form: FormDep, group_id: int) -> Response:
    visit.person()
    email = str(form.get("email") or "").strip()

    def use_case() -> Any:
        student = find_by_email(visit.db, email) if email else None
        if student is None:
            raise NotFound(f"no student with e-mail {email!r} in this course", field="email")
        return group_service.invite_to_group(
            visit.db, visit.actor(), group_id, person_id=student.id, clock=visit.state.clock
        )

    return visit.act(use_case, back="/group", ok=f"Invitation sent to {email}.")


@router.post("/group/invitations/{invitation_id}")
def answer(visit: VisitDep, form: FormDep, invitation_id: int) -> Response:
    visit.person()
    accept = form.get("answer") == "accept"
    return visit.act(
        lambda: group_service.answer_invitation(
            visit.db, visit.actor(), invitation_id, accept=accept, clock=visit.state.clock
        ),
        back="/group",
        ok="You joined the group." if accept else "Invitation declined.",
    )


@router.post("/group/{group_id}/leave")
def leave(visit: VisitDep, form: FormDep, group_id: int) -> Response:
    visit.person()
    return visit.act(
        lambda: group_service.leave_group(
            visit.db, visit.actor(), group_id, clock=visit.state.clock
        ),
        back="/group",
        ok="You left the group.",
    )
