"""People, their credentials, their grades and slack days, and the audit log."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from scalable_ai.course import audit
from scalable_ai.course.api.context import SignedIn
from scalable_ai.course.api.schemas import (
    ApiTokenIn,
    ApiTokenOut,
    Id,
    NewApiTokenOut,
    PersonIn,
    PersonOut,
    PersonPatch,
    SshKeyIn,
    SshKeyOut,
)
from scalable_ai.course.api.work_schemas import (
    AssignmentResultOut,
    AssignmentStatusOut,
    AuditOut,
    GradeComponentOut,
    GradeOut,
    NoteOut,
    ScoreOut,
    SlackBalanceOut,
)
from scalable_ai.course.service import credentials, grades, people, slack, submissions
from scalable_ai.course.service.actors import acting_person, require_staff
from scalable_ai.course.service.grades import StudentGrade

router = APIRouter(tags=["people"])
PersonId = Annotated[int, Path(ge=1, le=2_147_483_647)]


@router.get("/me", response_model=PersonOut, summary="Who the token belongs to")
def me(call: SignedIn) -> object:
    return acting_person(call.session, call.actor)


@router.get("/people", response_model=list[PersonOut], summary="Everyone (staff)")
def list_people(call: SignedIn, role: Annotated[str | None, Query(max_length=16)] = None) -> object:
    return people.list_people(call.session, call.actor, role=role)


@router.post(
    "/people",
    response_model=PersonOut,
    status_code=201,
    summary="Add a student or staff member (staff)",
)
def add_person(call: SignedIn, body: PersonIn) -> object:
    return people.add_person(call.session, call.actor, clock=call.clock, **body.model_dump())


@router.get(
    "/people/{person_id}",
    response_model=PersonOut,
    summary="One person (yourself, or anyone for staff)",
)
def show_person(call: SignedIn, person_id: PersonId) -> object:
    return people.show_person(call.session, call.actor, person_id)


@router.patch(
    "/people/{person_id}",
    response_model=PersonOut,
    summary="Edit a record (students: only their own name)",
)
def update_person(call: SignedIn, person_id: PersonId, body: PersonPatch) -> object:
    return people.update_person(
        call.session, call.actor, person_id, clock=call.clock, **body.model_dump(exclude_unset=True)
    )


def grade_out(grade: StudentGrade) -> GradeOut:
    report, running = grade.report, grade.running
    return GradeOut(
        person_id=grade.person.id,
        name=grade.person.name,
        total=report.total,
        letter=running.letter if running else report.letter,
        passed=report.passed,
        standing=str(running.standing) if running else "",
        standing_reasons=list(running.reasons) if running else [],
        projected=running.projected if running else None,
        projected_letter=running.projected_letter if running else "",
        complete=running.complete if running else False,
        components=[GradeComponentOut.model_validate(c) for c in report.components],
        assignments=[AssignmentResultOut.model_validate(a) for a in report.assignments],
        notes=[NoteOut.model_validate(n) for n in report.notes],
    )


@router.get(
    "/people/{person_id}/grade",
    response_model=GradeOut,
    tags=["grades"],
    summary="The grade with its explanation (yourself, or staff)",
)
def grade_of(call: SignedIn, person_id: PersonId) -> object:
    return grade_out(grades.grade_of(call.session, call.actor, person_id, clock=call.clock))


@router.get(
    "/people/{person_id}/scores",
    response_model=list[ScoreOut],
    tags=["grades"],
    summary="Recorded scores (yourself, or staff)",
)
def scores_of(call: SignedIn, person_id: PersonId) -> object:
    return grades.scores_of(call.session, call.actor, person_id)


@router.get(
    "/people/{person_id}/slack-days",
    response_model=SlackBalanceOut,
    tags=["slack days"],
    summary="Slack days used and left, from the ledger",
)
def slack_balance(call: SignedIn, person_id: PersonId) -> object:
    return slack.slack_balance(call.session, call.actor, person_id)


@router.get(
    "/people/{person_id}/assignments",
    response_model=list[AssignmentStatusOut],
    tags=["submissions"],
    summary="Each assignment's deadline for this student",
)
def assignment_statuses(call: SignedIn, person_id: PersonId) -> object:
    return [
        AssignmentStatusOut(
            assignment=s.assignment.key,
            title=s.assignment.title,
            due=s.due,
            deadline=s.deadline,
            slack_day_applied=s.slack_day_applied,
            exception_reason=s.exception_reason,
            submitted_at=s.submission.submitted_at if s.submission else None,
        )
        for s in submissions.assignment_statuses(call.session, call.actor, person_id)
    ]


@router.get("/people/{person_id}/ssh-keys", response_model=list[SshKeyOut], tags=["access"])
def list_ssh_keys(call: SignedIn, person_id: PersonId) -> object:
    return credentials.list_ssh_keys(call.session, call.actor, person_id)


@router.post(
    "/people/{person_id}/ssh-keys",
    response_model=SshKeyOut,
    status_code=201,
    tags=["access"],
    summary="Register an SSH public key",
)
def add_ssh_key(call: SignedIn, person_id: PersonId, body: SshKeyIn) -> object:
    return credentials.add_ssh_key(
        call.session, call.actor, person_id=person_id, public_key=body.public_key, clock=call.clock
    )


@router.delete("/ssh-keys/{key_id}", response_model=SshKeyOut, tags=["access"])
def revoke_ssh_key(call: SignedIn, key_id: Annotated[Id, Path()]) -> object:
    return credentials.revoke_ssh_key(call.session, call.actor, key_id, clock=call.clock)


@router.get("/people/{person_id}/api-tokens", response_model=list[ApiTokenOut], tags=["access"])
def list_api_tokens(call: SignedIn, person_id: PersonId) -> object:
    return credentials.list_api_tokens(call.session, call.actor, person_id)


@router.post(
    "/people/{person_id}/api-tokens",
    response_model=NewApiTokenOut,
    status_code=201,
    tags=["access"],
    summary="A new personal API token (shown once)",
)
def create_api_token(call: SignedIn, person_id: PersonId, body: ApiTokenIn) -> object:
    row, token = credentials.create_api_token(
        call.session, call.actor, person_id=person_id, name=body.name, clock=call.clock
    )
    return NewApiTokenOut(token=token, details=ApiTokenOut.model_validate(row))


@router.delete("/api-tokens/{token_id}", response_model=ApiTokenOut, tags=["access"])
def revoke_api_token(call: SignedIn, token_id: Annotated[Id, Path()]) -> object:
    return credentials.revoke_api_token(call.session, call.actor, token_id, clock=call.clock)


@router.get(
    "/audit",
    response_model=list[AuditOut],
    tags=["audit"],
    summary="The append-only audit log, newest first (staff)",
)
def audit_log(
    call: SignedIn,
    entity: Annotated[str | None, Query(max_length=64)] = None,
    entity_id: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> object:
    require_staff(call.actor, "read the audit log")
    return audit.entries(call.session, entity=entity, entity_id=entity_id, limit=limit)
