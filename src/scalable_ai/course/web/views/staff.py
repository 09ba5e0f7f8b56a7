"""Staff pages, part one: the overview, the roster (staff-created accounts, CSV bulk import)
and groups (propose, confirm — which assigns a node — and move students).

Every page starts with ``visit.staff()``: a student asking gets 403. The service checks the
staff role again with the Actor.
"""

from __future__ import annotations

import csv
import io
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import Response
from starlette.datastructures import UploadFile

from scalable_ai.course.service import groups as group_service
from scalable_ai.course.service import nodes as node_service
from scalable_ai.course.service import people as people_service
from scalable_ai.course.service.actors import current_group_id
from scalable_ai.course.service.course import settings_of
from scalable_ai.course.upload_limits import UPLOAD_ROUTE_BYTES
from scalable_ai.course.web import panels
from scalable_ai.course.web.security import hash_password
from scalable_ai.course.web.visit import Visit, checked_form, open_visit, refusal
from scalable_ai.errors import UserError

router = APIRouter(prefix="/staff")
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]
ROSTER_COLUMNS = ("name", "email", "sid", "role")


@router.get("")
def overview(visit: VisitDep) -> Response:
    visit.staff()
    actor = visit.actor()
    students = people_service.list_people(visit.db, actor, role="student")
    groups = group_service.list_groups(visit.db, actor)
    reservations = node_service.list_reservations(visit.db, actor)
    waiting = [r for r in reservations if r.cancelled_at is None and not r.consented]
    return visit.page(
        "staff/overview.html",
        title="Staff",
        active="/staff",
        students=students,
        groups=groups,
        undersized=group_service.undersized_groups(visit.db, actor, clock=visit.state.clock),
        ungrouped=[p for p in students if current_group_id(visit.db, p.id) is None],
        nodes_taken=sum(1 for g in groups if g.node_id is not None),
        nodes=node_service.list_nodes(visit.db, actor),
        waiting=waiting,
        announcements=panels.current_announcements(visit.db, actor, visit.now),
    )


def _roster_page(visit: Visit, created: list[tuple[str, str, str]] | None = None) -> Response:
    people = people_service.list_people(visit.db, visit.actor())
    groups = {g.id: g for g in group_service.list_groups(visit.db, visit.actor())}
    group_of = {p.id: groups.get(current_group_id(visit.db, p.id) or 0) for p in people}
    return visit.page(
        "staff/roster.html",
        title="Roster",
        active="/staff/roster",
        people=people,
        group_of=group_of,
        created=created or [],
    )


@router.get("/roster")
def roster(visit: VisitDep) -> Response:
    visit.staff()
    return _roster_page(visit)


def _make_account(visit: Visit, row: dict[str, str]) -> tuple[str, str, str]:
    """One staff-created account with a one-time password shown to the staff member."""
    password = row.get("password") or secrets.token_urlsafe(9)
    person = people_service.add_person(
        visit.db,
        visit.actor(),
        name=row.get("name", ""),
        email=row.get("email", ""),
        role=(row.get("role") or "student").strip().lower(),
        sid=row.get("sid") or None,
        clock=visit.state.clock,
    )
    visit.db.flush()
    people_service.set_password_hash(
        visit.db, visit.actor(), person.id, hash_password(password), clock=visit.state.clock
    )
    return person.name, person.email, password


@router.post("/roster/add")
def add_account(visit: VisitDep, form: FormDep) -> Response:
    visit.staff()
    try:
        visit.begin_write()
        created = [
            _make_account(visit, {k: str(form.get(k) or "") for k in (*ROSTER_COLUMNS, "password")})
        ]
        visit.db.commit()
    except UserError as exc:
        visit.db.rollback()
        return visit.redirect("/staff/roster", error=refusal(exc))
    return _roster_page(visit, created)


def parse_roster_csv(text: str) -> list[dict[str, str]]:
    """Rows of a roster CSV with a header naming ``name`` and ``email`` (``sid`` and ``role``
    optional); a bCourses-style ``Student, SIS User ID, Email`` header is read too."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    aliases = {
        "student": "name",
        "full name": "name",
        "sis user id": "sid",
        "e-mail": "email",
        "email address": "email",
    }
    if not reader.fieldnames:
        raise UserError("the CSV is empty", field="csv")
    columns = {f: aliases.get(f.strip().lower(), f.strip().lower()) for f in reader.fieldnames}
    if not {"name", "email"} <= set(columns.values()):
        raise UserError(
            "the CSV header must name the columns name and email (sid and role are optional)",
            field="csv",
        )
    rows = []
    for raw in reader:
        row = {columns[k]: (v or "").strip() for k, v in raw.items() if k in columns}
        if any(row.values()):
            rows.append(row)
    return rows


@router.post("/roster/import", max_body_size=UPLOAD_ROUTE_BYTES["roster_import"])
def import_roster(visit: VisitDep, form: FormDep) -> Response:
    """Bulk import: every row or none (one unit of work); an error names its line."""
    visit.staff()
    upload = form.get("file")
    text = str(form.get("csv_text") or "")
    if isinstance(upload, UploadFile) and upload.filename:
        text = upload.file.read().decode("utf-8", errors="replace")
    created = []
    try:
        visit.begin_write()
        for line, row in enumerate(parse_roster_csv(text), start=2):
            try:
                created.append(_make_account(visit, row))
            except UserError as exc:
                raise UserError(f"line {line}: {exc.message}", field=exc.field) from None
        visit.db.commit()
    except UserError as exc:
        visit.db.rollback()
        return visit.redirect("/staff/roster", error=f"nothing imported — {exc.message}")
    visit.session.flash("ok", f"Imported {len(created)} accounts.")
    return _roster_page(visit, created)


@router.post("/roster/{person_id}/password")
def reset_password(visit: VisitDep, form: FormDep, person_id: int) -> Response:
    """A new one-time password for someone who forgot theirs (shown once, to staff)."""
    visit.staff()
    try:
        visit.begin_write()
        person = people_service.show_person(visit.db, visit.actor(), person_id)
        password = secrets.token_urlsafe(9)
        change = people_service.set_password_hash(
            visit.db,
            visit.actor(),
            person.id,
            hash_password(password),
            clock=visit.state.clock,
            keep_web_session=visit.session.token,  # staff resetting their own stay in
        )
        created = [(person.name, person.email, password)]
        visit.db.commit()
        visit.session.flash("ok", change.message(f"{person.name}'s"))
    except UserError as exc:
        visit.db.rollback()
        return visit.redirect("/staff/roster", error=refusal(exc))
    return _roster_page(visit, created)


@router.post("/roster/{person_id}/active")
def set_active(visit: VisitDep, form: FormDep, person_id: int) -> Response:
    """Deactivate (they can no longer sign in; their record stays) or reactivate."""
    visit.staff()
    active = form.get("active") == "yes"
    return visit.act(
        lambda: people_service.update_person(
            visit.db, visit.actor(), person_id, active=active, clock=visit.state.clock
        ),
        back="/staff/roster",
        ok=lambda p: f"{p.name} can {'now' if active else 'no longer'} sign in.",
    )


@router.get("/groups")
def groups_page(visit: VisitDep) -> Response:
    visit.staff()
    actor = visit.actor()
    students = people_service.list_people(visit.db, actor, role="student")
    return visit.page(
        "staff/groups.html",
        title="Groups",
        active="/staff/groups",
        groups=group_service.list_groups(visit.db, actor),
        undersized={
            g.id for g in group_service.undersized_groups(visit.db, actor, clock=visit.state.clock)
        },
        group_size_min=settings_of(visit.db).group_size_min,
        students=students,
        ungrouped=[p for p in students if current_group_id(visit.db, p.id) is None],
    )


def _ids(value: Any) -> list[int]:
    values = value if isinstance(value, list) else [value] if value else []
    return [int(v) for v in values if str(v).isdigit()]


@router.post("/groups/propose")
def propose(visit: VisitDep, form: FormDep) -> Response:
    visit.staff()
    return visit.act(
        lambda: group_service.propose_group(
            visit.db,
            visit.actor(),
            name=str(form.get("name") or ""),
            member_ids=_ids(form.get("member_ids")),
            clock=visit.state.clock,
        ),
        back="/staff/groups",
        ok=lambda g: f"Group {g.name} proposed; confirm it to give it a node.",
    )


@router.post("/groups/{group_id}/confirm")
def confirm(visit: VisitDep, form: FormDep, group_id: int) -> Response:
    visit.staff()
    return visit.act(
        lambda: group_service.confirm_group(
            visit.db, visit.actor(), group_id, clock=visit.state.clock
        ),
        back="/staff/groups",
        ok=lambda g: f"{g.name} confirmed" + (f" on {g.node.name}." if g.node else "."),
    )


@router.post("/groups/move")
def move(visit: VisitDep, form: FormDep) -> Response:
    visit.staff()
    target = str(form.get("to_group_id") or "")
    person_ids = _ids(form.get("person_id"))
    if not person_ids:
        return visit.redirect("/staff/groups", error="person_id: choose a student")
    return visit.act(
        lambda: group_service.move_student(
            visit.db,
            visit.actor(),
            person_ids[0],
            to_group_id=int(target) if target.isdigit() else None,
            clock=visit.state.clock,
        ),
        back="/staff/groups",
        ok="Student moved; their slack-day balance goes with them.",
    )
