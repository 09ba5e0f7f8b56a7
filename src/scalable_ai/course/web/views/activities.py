"""Scribing, peer review and checkoff slots — the student side and the staff side.

- Scribing: "Each student is expected to scribe 2 lectures" — staff run the balanced, seeded
  deal, inspect it by lecture, re-deal with another seed, and mark each scribe satisfactory.
- Peer review: "each group will provide a structured, constructive review of another
  group's report" — staff run the derangement here; the student page, where a group reads
  the draft and writes its structured review, is ``views.peer_review``.
- Checkoffs: "Checkoff slots by sign-up" — staff open slots; a group books one per assignment.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from sqlalchemy import select

from scalable_ai.course.clock import parse_instant
from scalable_ai.course.service import activities as activity_service
from scalable_ai.course.service import groups as group_service
from scalable_ai.course.service import people as people_service
from scalable_ai.course.service import scribe_moves
from scalable_ai.course.service.checkoff_grading import has_checkoff_rubric
from scalable_ai.course.tables import Assignment, Group, Lecture
from scalable_ai.course.web.visit import Visit, checked_form, open_visit
from scalable_ai.errors import UserError

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]


def _group_names(visit: Visit) -> dict[int, str]:
    return dict(visit.db.execute(select(Group.id, Group.name)).all())


def _slots_with_signups(visit: Visit) -> list[tuple[Any, list[Any]]]:
    slots = activity_service.list_slots(visit.db, visit.actor())
    return [(s, list(activity_service.slot_signups(visit.db, s.id))) for s in slots]


# --- students ---------------------------------------------------------------------------


@router.get("/checkoffs")
def checkoffs(visit: VisitDep) -> Response:
    visit.person()
    group = group_service.my_group(visit.db, visit.actor())
    keys = dict(visit.db.execute(select(Assignment.id, Assignment.key)).all())
    return visit.page(
        "checkoffs.html",
        title="Checkoffs",
        active="/checkoffs",
        group=group,
        slots=_slots_with_signups(visit),
        names=_group_names(visit),
        keys=keys,
    )


@router.post("/checkoffs/{slot_id}/sign-up")
def sign_up(visit: VisitDep, form: FormDep, slot_id: int) -> Response:
    me = visit.person()
    group_id = str(form.get("group_id") or "")
    back = "/staff/checkoffs" if me.is_staff else "/checkoffs"
    return visit.act(
        lambda: activity_service.sign_up(
            visit.db,
            visit.actor(),
            slot_id,
            group_id=int(group_id) if group_id.isdigit() else None,
            clock=visit.state.clock,
        ),
        back=back,
        ok="Slot booked.",
    )


@router.post("/checkoffs/sign-ups/{signup_id}/cancel")
def cancel_sign_up(visit: VisitDep, form: FormDep, signup_id: int) -> Response:
    me = visit.person()
    return visit.act(
        lambda: activity_service.cancel_signup(
            visit.db, visit.actor(), signup_id, clock=visit.state.clock
        ),
        back="/staff/checkoffs" if me.is_staff else "/checkoffs",
        ok="Slot given back.",
    )


# --- staff ------------------------------------------------------------------------------


@router.get("/staff/scribes")
def scribes(visit: VisitDep) -> Response:
    visit.staff()
    actor = visit.actor()
    lectures = visit.db.scalars(select(Lecture).order_by(Lecture.held_on)).all()
    people = {p.id: p for p in people_service.list_people(visit.db, actor)}
    by_lecture: dict[int, list[Any]] = {lec.id: [] for lec in lectures}
    per_student: dict[int, int] = {}
    for row in activity_service.list_scribes(visit.db, actor):
        by_lecture.setdefault(row.lecture_id, []).append(row)
        per_student[row.person_id] = per_student.get(row.person_id, 0) + 1
    return visit.page(
        "staff/scribes.html",
        title="Scribes and peer reviews",
        active="/staff/scribes",
        lectures=lectures,
        by_lecture=by_lecture,
        people=people,
        per_student=per_student,
        pairs=activity_service.list_peer_reviews(visit.db, actor),
        names=_group_names(visit),
    )


def _seed(form: dict[str, Any]) -> int:
    text = str(form.get("seed") or "0").strip()
    if not text.lstrip("-").isdigit():
        raise UserError("the seed is a whole number", field="seed")
    return int(text)


@router.post("/staff/scribes/assign")
def run_scribes(visit: VisitDep, form: FormDep) -> Response:
    visit.staff()
    return visit.act(
        lambda: activity_service.assign_scribes(
            visit.db,
            visit.actor(),
            seed=_seed(form),
            replace=bool(form.get("replace")),
            clock=visit.state.clock,
        ),
        back="/staff/scribes",
        ok=lambda rows: f"{len(rows)} scribe assignments dealt.",
    )


@router.post("/staff/scribes/{scribe_id}/mark")
def mark_scribe(visit: VisitDep, form: FormDep, scribe_id: int) -> Response:
    visit.staff()
    return visit.act(
        lambda: activity_service.mark_scribe(
            visit.db,
            visit.actor(),
            scribe_id,
            satisfactory=form.get("satisfactory") == "yes",
            clock=visit.state.clock,
        ),
        back="/staff/scribes",
        ok="Scribe marked.",
    )


@router.post("/staff/scribes/move")
def move_scribe(visit: VisitDep, form: FormDep) -> Response:
    """Move one student's scribe lecture to another by hand (issue 4: "adjust")."""
    visit.staff()

    def use_case() -> Any:
        scribe = str(form.get("scribe") or "").strip()
        if not scribe.isdigit():
            raise UserError("pick the scribe assignment to move", field="scribe")
        return scribe_moves.move_scribe(
            visit.db,
            visit.actor(),
            int(scribe),
            to_lecture=str(form.get("lecture") or ""),
            clock=visit.state.clock,
        )

    return visit.act(
        use_case,
        back="/staff/scribes",
        ok=lambda move: f"Scribe moved to {move.lecture}.",
        warn=lambda move: [move.warning] if move.warning else [],
    )


@router.post("/staff/peer-reviews/assign")
def run_peer_reviews(visit: VisitDep, form: FormDep) -> Response:
    visit.staff()
    return visit.act(
        lambda: activity_service.assign_peer_reviews(
            visit.db,
            visit.actor(),
            seed=_seed(form),
            replace=bool(form.get("replace")),
            clock=visit.state.clock,
        ),
        back="/staff/scribes",
        ok=lambda rows: f"{len(rows)} peer-review pairings made.",
    )


@router.get("/staff/checkoffs")
def staff_checkoffs(visit: VisitDep) -> Response:
    visit.staff()
    assignments = visit.db.scalars(select(Assignment).order_by(Assignment.key)).all()
    return visit.page(
        "staff/checkoffs.html",
        title="Checkoff slots",
        active="/staff/checkoffs",
        slots=_slots_with_signups(visit),
        names=_group_names(visit),
        assignments=assignments,
        keys={a.id: a.key for a in assignments},
        groups=group_service.list_groups(visit.db, visit.actor()),
        with_rubric={a.key for a in assignments if has_checkoff_rubric(a.key)},
    )


@router.post("/staff/checkoffs")
def create_slots(visit: VisitDep, form: FormDep) -> Response:
    """Open one slot, or several back to back (``count`` slots of ``minutes`` each)."""
    visit.staff()
    from datetime import timedelta

    def use_case() -> list[Any]:
        starts = parse_instant(str(form.get("starts_at") or ""), field="starts_at")
        minutes = int(str(form.get("minutes") or "15"))
        count = int(str(form.get("count") or "1"))
        if not 1 <= count <= 40 or not 5 <= minutes <= 240:
            raise UserError("1–40 slots of 5–240 minutes", field="count")
        made = []
        for i in range(count):
            begin = starts + timedelta(minutes=minutes * i)
            made.append(
                activity_service.create_slot(
                    visit.db,
                    visit.actor(),
                    kind=str(form.get("kind") or "checkoff"),
                    starts_at=begin,
                    ends_at=begin + timedelta(minutes=minutes),
                    capacity=int(str(form.get("capacity") or "1")),
                    assignment=str(form.get("assignment") or "") or None,
                    location=str(form.get("location") or ""),
                    clock=visit.state.clock,
                )
            )
        return made

    return visit.act(
        use_case, back="/staff/checkoffs", ok=lambda made: f"{len(made)} slot(s) opened."
    )
