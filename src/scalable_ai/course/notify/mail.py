"""E-mail through the course's SMTP server (``SAI_SMTP_HOST`` and friends): a message per
notification for people who chose "each", and a daily digest for those who chose "digest"
(sent at :data:`DIGEST_HOUR` Berkeley time with everything not yet mailed). Python's
``smtplib`` does the talking (STARTTLS and login when configured)."""

from __future__ import annotations

import smtplib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from email.message import EmailMessage

from sqlalchemy import select
from sqlalchemy.orm import Session

from scalable_ai.course.clock import BERKELEY, Clock
from scalable_ai.course.notify.events import DEFAULT_EMAIL, KINDS
from scalable_ai.course.tables import Person
from scalable_ai.course.tables.notifications import Notification, NotificationSetting
from scalable_ai.course.web.rendering import berkeley

DIGEST_HOUR = 7  # the digest goes out at 7:00 Berkeley time, with yesterday's news


@dataclass(frozen=True)
class Mailer:
    host: str
    port: int = 25
    sender: str = "Scalable AI <noreply@localhost>"
    user: str = ""
    password: str = ""
    starttls: bool = False
    site_url: str = "http://127.0.0.1:8000"

    def send(self, to: str, subject: str, text: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, to, subject
        message.set_content(text)
        with smtplib.SMTP(self.host, self.port, timeout=30) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(message)


def mailer_from_settings() -> Mailer | None:
    """The configured SMTP server, or None when ``SAI_SMTP_HOST`` is not set (no e-mail)."""
    from scalable_ai.settings import get_settings

    s = get_settings()
    if not s.smtp_host:
        return None
    return Mailer(
        s.smtp_host,
        s.smtp_port,
        s.smtp_from,
        s.smtp_user,
        s.smtp_password,
        s.smtp_starttls,
        s.site_url.rstrip("/"),
    )


def _modes(session: Session) -> dict[int, NotificationSetting]:
    return {row.person_id: row for row in session.scalars(select(NotificationSetting))}


def _pending(session: Session) -> dict[int, list[Notification]]:
    waiting: dict[int, list[Notification]] = defaultdict(list)
    for row in session.scalars(
        select(Notification)
        .where(Notification.emailed_at.is_(None), Notification.read_at.is_(None))
        .order_by(Notification.id)
    ):
        waiting[row.person_id].append(row)
    return waiting


def _line(mailer: Mailer, n: Notification) -> str:
    text = f"- {n.title} ({berkeley(n.created_at)})"
    if n.body:
        text += f"\n  {n.body}"
    return text + f"\n  {mailer.site_url}{n.link}"


def deliver(session: Session, mailer: Mailer, *, clock: Clock) -> int:
    """Mail each unread, unsent notification of the people who chose "each"; returns how
    many messages went out. A message is marked sent only after the server took it."""
    modes, sent = _modes(session), 0
    for person_id, rows in _pending(session).items():
        setting = modes.get(person_id)
        if (setting.email if setting else DEFAULT_EMAIL) != "each":
            continue
        person = session.get(Person, person_id)
        assert person is not None
        for n in rows:
            mailer.send(person.email, f"[Scalable AI] {n.title}", _line(mailer, n))
            n.emailed_at = clock.now()
            sent += 1
    return sent


def digest_due(last: datetime | None, now: datetime) -> bool:
    """True once a day: when the latest DIGEST_HOUR (Berkeley) has passed since the last
    digest."""
    local = now.astimezone(BERKELEY)
    boundary = datetime.combine(local.date(), time(DIGEST_HOUR), tzinfo=BERKELEY)
    if local < boundary:
        boundary -= timedelta(days=1)
    return last is None or last < boundary


def send_digests(session: Session, mailer: Mailer, *, clock: Clock) -> int:
    """One e-mail per "digest" person with everything unread and not yet mailed, once a day."""
    modes, sent = _modes(session), 0
    for person_id, rows in _pending(session).items():
        setting = modes.get(person_id)
        if (setting.email if setting else DEFAULT_EMAIL) != "digest":
            continue
        if not digest_due(setting.last_digest_at if setting else None, clock.now()):
            continue
        person = session.get(Person, person_id)
        assert person is not None
        by_kind: dict[str, list[Notification]] = defaultdict(list)
        for n in rows:
            by_kind[n.kind].append(n)
        parts = [f"Hello {person.name}, here is what is new on the course platform.\n"]
        for kind, label in KINDS.items():
            if by_kind.get(kind):
                parts.append(f"{label}:\n" + "\n".join(_line(mailer, n) for n in by_kind[kind]))
        parts.append(f"Change how you hear from us: {mailer.site_url}/notifications")
        mailer.send(
            person.email,
            f"[Scalable AI] Daily digest: {len(rows)} new",
            "\n\n".join(parts),
        )
        for n in rows:
            n.emailed_at = clock.now()
        if setting is None:
            setting = NotificationSetting(person_id=person_id, email=DEFAULT_EMAIL, muted=[])
            session.add(setting)
        setting.last_digest_at = clock.now()
        sent += 1
    return sent
