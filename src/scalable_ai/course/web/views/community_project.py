"""The research project and assignment enhancements: a group picks a research direction (or
proposes its own), hands in its deliverables from hypothesis v1 to the impact evidence, and
proposes enhancements; staff post directions and approve, review, verify and score.

Syllabus: "Research directions released (Jan 22)"; the milestones table; "Impact is scored on
*evidence* of external usefulness"; "Enhancements (10%): Contribute meaningfully by adding
questions, or reframing the programmatic part". Rules: ``course.community.service.project``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy import select

from scalable_ai.course.community.project_rules import (
    DELIVERABLES,
    ENHANCEMENT_LABELS,
    IMPACT_LABELS,
)
from scalable_ai.course.community.service import project
from scalable_ai.course.service.groups import my_group
from scalable_ai.course.tables import Assignment, Group
from scalable_ai.course.web.visit import Visit, checked_form, open_visit

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]
TITLES = {d.key: d.title for d in DELIVERABLES}


@router.get("/project")
def project_page(visit: VisitDep) -> Response:
    me = visit.person()
    if me.is_staff:
        return visit.redirect("/staff/project")
    actor = visit.actor()
    group = my_group(visit.db, actor)
    context: dict[str, Any] = {
        "group": group,
        "choice": None,
        "deliverables": [],
        "enhancements": [],
        "enhancement_score": None,
    }
    if group is not None:
        context.update(
            choice=project.direction_choice(visit.db, actor, group.id),
            deliverables=project.list_deliverables(visit.db, actor, group.id),
            enhancements=project.list_enhancements(visit.db, actor, group.id),
            enhancement_score=project.enhancements_score(visit.db, actor, group.id),
        )
    assignments = visit.db.scalars(select(Assignment).order_by(Assignment.key)).all()
    return visit.page(
        "community/project.html",
        title="Research project",
        active="/project",
        directions=project.list_directions(visit.db, actor, clock=visit.state.clock),
        deliverable_kinds=DELIVERABLES,
        titles=TITLES,
        impact_labels=IMPACT_LABELS,
        enhancement_labels=ENHANCEMENT_LABELS,
        assignments=assignments,
        **context,
    )


def _group_id(visit: Visit) -> int:
    group = my_group(visit.db, visit.actor())
    return group.id if group is not None else 0


@router.post("/project/direction")
def choose(visit: VisitDep, form: FormDep) -> Response:
    visit.person()
    raw = str(form.get("direction_id") or "")
    return visit.act(
        lambda: project.choose_direction(
            visit.db,
            visit.actor(),
            _group_id(visit),
            direction_id=int(raw) if raw.isdigit() else None,
            own_title=str(form.get("own_title") or ""),
            own_summary=str(form.get("own_summary") or ""),
            clock=visit.state.clock,
        ),
        back="/project",
        ok="Direction sent to staff for approval.",
    )


@router.post("/project/deliverables")
def hand_in(visit: VisitDep, form: FormDep) -> Response:
    visit.person()
    return visit.act(
        lambda: project.submit_deliverable(
            visit.db,
            visit.actor(),
            _group_id(visit),
            kind=str(form.get("kind") or ""),
            link=str(form.get("link") or ""),
            code_link=str(form.get("code_link") or ""),
            summary=str(form.get("summary") or ""),
            evidence_kind=str(form.get("evidence_kind") or "") or None,
            integrity_statement=str(form.get("integrity_statement") or ""),
            clock=visit.state.clock,
        ),
        back="/project",
        ok=lambda d: (
            f"{TITLES[d.kind]} handed in (version {d.version})"
            + (" — after the deadline; staff are told." if d.late else ".")
        ),
    )


@router.post("/project/enhancements")
def propose_enhancement(visit: VisitDep, form: FormDep) -> Response:
    visit.person()
    return visit.act(
        lambda: project.propose_enhancement(
            visit.db,
            visit.actor(),
            _group_id(visit),
            assignment_key=str(form.get("assignment") or ""),
            kind=str(form.get("kind") or ""),
            title=str(form.get("title") or ""),
            description=str(form.get("description") or ""),
            clock=visit.state.clock,
        ),
        back="/project",
        ok="Enhancement proposed to staff.",
    )


@router.get("/staff/project")
def staff_project(visit: VisitDep) -> Response:
    visit.staff()
    actor = visit.actor()
    names = dict(visit.db.execute(select(Group.id, Group.name)).all())
    keys = dict(visit.db.execute(select(Assignment.id, Assignment.key)).all())
    return visit.page(
        "community/project_staff.html",
        title="Project and enhancements",
        active="/staff/project",
        names=names,
        assignment_keys=keys,
        directions=project.list_directions(visit.db, actor, clock=visit.state.clock),
        choices=project.direction_choices(visit.db, actor),
        deliverables=project.list_deliverables(visit.db, actor),
        enhancements=project.list_enhancements(visit.db, actor),
        titles=TITLES,
        impact_labels=IMPACT_LABELS,
        enhancement_labels=ENHANCEMENT_LABELS,
    )


@router.post("/staff/project/directions")
def post_direction(visit: VisitDep, form: FormDep) -> Response:
    visit.staff()
    return visit.act(
        lambda: project.post_direction(
            visit.db,
            visit.actor(),
            title=str(form.get("title") or ""),
            summary=str(form.get("summary") or ""),
            clock=visit.state.clock,
        ),
        back="/staff/project",
        ok="Direction posted on the course site.",
    )


@router.post("/staff/project/choices/{group_id}")
def review_choice(visit: VisitDep, form: FormDep, group_id: int) -> Response:
    visit.staff()
    return visit.act(
        lambda: project.review_direction(
            visit.db,
            visit.actor(),
            group_id,
            decision=str(form.get("decision") or ""),
            feedback=str(form.get("feedback") or ""),
            clock=visit.state.clock,
        ),
        back="/staff/project",
        ok="Direction reviewed.",
    )


@router.post("/staff/project/deliverables/{deliverable_id}")
def review_deliverable(visit: VisitDep, form: FormDep, deliverable_id: int) -> Response:
    visit.staff()
    return visit.act(
        lambda: project.review_deliverable(
            visit.db,
            visit.actor(),
            deliverable_id,
            decision=str(form.get("decision") or ""),
            feedback=str(form.get("feedback") or ""),
            clock=visit.state.clock,
        ),
        back="/staff/project",
        ok="Deliverable reviewed.",
    )


@router.post("/staff/project/enhancements/{enhancement_id}")
def review_enhancement(visit: VisitDep, form: FormDep, enhancement_id: int) -> Response:
    visit.staff()
    raw = str(form.get("score") or "").strip()
    try:
        score = float(raw) if raw else None
    except ValueError:
        score = -1.0  # refused by the rule, with its message
    return visit.act(
        lambda: project.review_enhancement(
            visit.db,
            visit.actor(),
            enhancement_id,
            decision=str(form.get("decision") or ""),
            score=score,
            feedback=str(form.get("feedback") or ""),
            clock=visit.state.clock,
        ),
        back="/staff/project",
        ok="Enhancement reviewed.",
    )
