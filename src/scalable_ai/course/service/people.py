"""Students and staff: adding, finding, editing and listing people.

Staff add people (the roster comes from enrollment or the CLI); a student may see and
edit only their own name. Emails are unique and compared in lower case.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scalable_ai.course import audit
from scalable_ai.course.clock import Clock
from scalable_ai.course.policy.roster import clean_email, clean_name
from scalable_ai.course.service.actors import (
    Actor,
    get_person,
    require_self_or_staff,
    require_staff,
)
from scalable_ai.course.tables import ROLES, ApiToken, Person, WebSession
from scalable_ai.errors import Conflict, NotFound, UserError


def add_person(
    session: Session,
    actor: Actor,
    *,
    name: str,
    email: str,
    role: str = "student",
    sid: str | None = None,
    staff_title: str | None = None,
    clock: Clock,
) -> Person:
    """Add a student or staff member (staff only). Email and SID must be new."""
    require_staff(actor, "add people")
    email = clean_email(email)
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}", field="role")
    if session.scalar(select(Person.id).where(func.lower(Person.email) == email)):
        raise Conflict(f"someone with email {email} already exists", field="email")
    sid = (sid or "").strip() or None
    if sid is not None and session.scalar(select(Person.id).where(Person.sid == sid)):
        raise Conflict(f"someone with SID {sid} already exists", field="sid")
    person = Person(
        name=clean_name(name),
        email=email,
        role=role,
        sid=sid,
        staff_title=(staff_title or None) if role == "staff" else None,
        created_at=clock.now(),
    )
    session.add(person)
    audit.record(session, actor, "person.add", person, before=None, at=clock.now())
    return person


def find_by_email(session: Session, email: str) -> Person | None:
    """The person with this email (any case), or ``None``: used by sign-in."""
    return session.scalar(select(Person).where(func.lower(Person.email) == email.strip().lower()))


def person_by_email(session: Session, actor: Actor, email: str) -> Person:
    """Look someone up by email (staff, or yourself)."""
    person = find_by_email(session, email)
    if person is None:
        raise NotFound(f"no person with email {email}", field="email")
    require_self_or_staff(actor, person.id, "look up a person")
    return person


def show_person(session: Session, actor: Actor, person_id: int) -> Person:
    """One person's record: staff see anyone, a student only themself."""
    person = get_person(session, person_id)
    require_self_or_staff(actor, person_id, "see a person's record")
    return person


def list_people(session: Session, actor: Actor, *, role: str | None = None) -> Sequence[Person]:
    """Everyone (staff only), optionally one role, by name."""
    require_staff(actor, "list people")
    query = select(Person).order_by(Person.name, Person.id)
    if role is not None:
        if role not in ROLES:
            raise UserError(f"role must be one of {', '.join(ROLES)}", field="role")
        query = query.where(Person.role == role)
    return session.scalars(query).all()


def list_staff(session: Session) -> Sequence[Person]:
    """The teaching staff, public (the syllabus lists them)."""
    return session.scalars(
        select(Person).where(Person.role == "staff", Person.active).order_by(Person.id)
    ).all()


def update_person(
    session: Session,
    actor: Actor,
    person_id: int,
    *,
    name: str | None = None,
    email: str | None = None,
    sid: str | None = None,
    staff_title: str | None = None,
    active: bool | None = None,
    clock: Clock,
) -> Person:
    """Edit a record: a student may change only their own name; staff anything."""
    person = get_person(session, person_id)
    require_self_or_staff(actor, person_id, "edit a person's record")
    if not actor.is_staff and any(v is not None for v in (email, sid, staff_title, active)):
        raise UserError("students may change only their name", field="name")
    before = audit.snapshot(person)
    if name is not None:
        person.name = clean_name(name)
    if email is not None:
        email = clean_email(email)
        other = find_by_email(session, email)
        if other is not None and other.id != person.id:
            raise Conflict(f"someone with email {email} already exists", field="email")
        person.email = email
    if sid is not None:
        sid = sid.strip() or None
        clash = session.scalar(select(Person.id).where(Person.sid == sid, Person.id != person.id))
        if sid is not None and clash:
            raise Conflict(f"someone with SID {sid} already exists", field="sid")
        person.sid = sid
    if staff_title is not None:
        person.staff_title = staff_title or None
    if active is not None:
        person.active = active
    audit.record(session, actor, "person.update", person, before=before, at=clock.now())
    return person


@dataclass(frozen=True)
class PasswordChange:
    """What a password change ended: the person's other browser sessions and API tokens."""

    sessions_ended: int
    tokens_revoked: int

    def message(self, whose: str = "Your") -> str:
        ended = []
        if self.sessions_ended:
            ended.append(
                f"{self.sessions_ended} other signed-in session"
                f"{'s' if self.sessions_ended != 1 else ''} signed out"
            )
        if self.tokens_revoked:
            ended.append(
                f"{self.tokens_revoked} API token"
                f"{'s' if self.tokens_revoked != 1 else ''} revoked (make a new one)"
            )
        return f"{whose} password is changed" + (f"; {' and '.join(ended)}." if ended else ".")


def set_password_hash(
    session: Session,
    actor: Actor,
    person_id: int,
    password_hash: str | None,
    *,
    clock: Clock,
    keep_web_session: str | None = None,
) -> PasswordChange:
    """Store an argon2 hash made by the web sign-in (yourself or staff); ``None`` clears it.

    A new password ends every other way in (issue 21, OWASP ASVS 3.3.3): the person's web
    sessions, but for ``keep_web_session`` (the token of the browser that changed it), and
    their API tokens are revoked, so whoever learned the old password is signed out."""
    from scalable_ai.course.service.credentials import hash_token

    person = get_person(session, person_id)
    require_self_or_staff(actor, person_id, "set a password")
    before = audit.snapshot(person)
    person.password_hash = password_hash
    now = clock.now()
    kept = hash_token(keep_web_session) if keep_web_session else None
    sessions = [
        row
        for row in session.scalars(
            select(WebSession).where(
                WebSession.person_id == person_id, WebSession.revoked_at.is_(None)
            )
        )
        if row.token_hash != kept
    ]
    tokens = session.scalars(
        select(ApiToken).where(ApiToken.person_id == person_id, ApiToken.revoked_at.is_(None))
    ).all()
    for row in (*sessions, *tokens):
        row.revoked_at = now
    audit.record(
        session,
        actor,
        "person.password",
        person,
        before=before,
        at=now,
        after={
            **(audit.snapshot(person) or {}),
            "sessions_ended": len(sessions),
            "tokens_revoked": len(tokens),
        },
    )
    return PasswordChange(sessions_ended=len(sessions), tokens_revoked=len(tokens))


def import_roster(
    session: Session, actor: Actor, rows: list[dict[str, str]], *, clock: Clock
) -> list[Person]:
    """Add students from roster rows (``name``, ``email``, optional ``sid``); a row whose
    email is already known is skipped, any bad row refuses the whole import (naming it)."""
    require_staff(actor, "import a roster")
    added = []
    for i, row in enumerate(rows, start=2):
        email = (row.get("email") or "").strip()
        if find_by_email(session, email) is not None:
            continue
        try:
            person = add_person(
                session,
                actor,
                name=row.get("name") or "",
                email=email,
                sid=row.get("sid"),
                clock=clock,
            )
        except UserError as error:
            raise type(error)(f"row {i}: {error.message}", field=error.field) from None
        session.flush()
        added.append(person)
    return added
