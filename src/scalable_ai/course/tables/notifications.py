"""Notifications (issue 13): what the bell shows and the e-mail carries, and each person's
choice of how they hear about it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from scalable_ai.course.tables.base import Base


class Notification(Base):
    """One thing a person should hear about; ``key`` makes a repeated event (a reminder the
    worker looks for every minute, a score changed twice) one notification."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(300), default="/")
    key: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(index=True)
    read_at: Mapped[datetime | None]
    emailed_at: Mapped[datetime | None] = mapped_column(index=True)


class NotificationSetting(Base):
    """How a person hears: e-mail for each notification, a daily digest, or none, and the
    kinds they muted (neither bell nor e-mail)."""

    __tablename__ = "notification_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), unique=True)
    email: Mapped[str] = mapped_column(String(16), default="digest")
    muted: Mapped[list[Any]] = mapped_column(default=list)
    last_digest_at: Mapped[datetime | None]
