"""People and their credentials: students and staff, web sessions, API tokens, calendar feed
tokens and SSH public keys.

Secrets (session cookies, API tokens, calendar feed tokens) are stored only as SHA-256
hashes: a stolen database does not let anyone sign in, and a token is shown to its owner
once, when it is made. Passwords are argon2 hashes written by the web sign-in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scalable_ai.course.tables.base import Base

ROLES = ("student", "staff")


class Person(Base):
    """A student or a member of the teaching staff (instructors included: title says which)."""

    __tablename__ = "people"
    __table_args__ = (CheckConstraint("role IN ('student', 'staff')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    sid: Mapped[str | None] = mapped_column(String(32), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    staff_title: Mapped[str | None] = mapped_column(String(200))
    password_hash: Mapped[str | None] = mapped_column(String(300))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]

    # Loaded only when read (nothing on a page does: the key list queries its own rows), so
    # signing in a visitor or loading a group's members costs no ssh_keys query.
    ssh_keys: Mapped[list[SshKey]] = relationship(back_populates="person", lazy="select")

    @property
    def is_staff(self) -> bool:
        return self.role == "staff"

    def __repr__(self) -> str:
        return f"Person({self.id}, {self.email!r}, {self.role})"


class WebSession(Base):
    """A signed-in browser: the cookie carries the token, the table its hash."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship(lazy="joined")


class ApiToken(Base):
    """A personal API token for scripts: ``Authorization: Bearer <token>``."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship(lazy="joined")


class CalendarToken(Base):
    """The unguessable part of a person's iCalendar feed URL; revoking it kills the feed."""

    __tablename__ = "calendar_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship(lazy="joined")


class SshKey(Base):
    """A student's SSH public key; a node's ``authorized_keys`` is built from its group's keys."""

    __tablename__ = "ssh_keys"
    __table_args__ = (UniqueConstraint("person_id", "fingerprint"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    public_key: Mapped[str] = mapped_column(Text)
    fingerprint: Mapped[str] = mapped_column(String(128))
    comment: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]

    person: Mapped[Person] = relationship(back_populates="ssh_keys")


class SignInLimit(Base):
    """One sign-in counter: attempts within a window for one key (an account at one client
    address, or one client address), kept in the database so that the check and the count
    are one atomic statement for every worker process (``course.web.signin_limits``). The
    key is a SHA-256, so a row is small whatever was typed; rows whose window ended are
    deleted as new attempts come in."""

    __tablename__ = "sign_in_limits"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    attempts: Mapped[int] = mapped_column(default=0)
    window_ends: Mapped[float] = mapped_column(index=True)  # seconds since the epoch
