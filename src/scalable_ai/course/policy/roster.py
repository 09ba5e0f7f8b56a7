"""How the course writes the names and addresses on its roster.

A person's name, a group's name and a thread's title are one line: runs of whitespace fold
into one space, and the result is 1 to a limit of characters (200 for names, which is the
width of the columns that hold them). An email address is the roster's identity for a
student (the enrollment list, the questionnaire's "preferred teammates"): one ``@``, a dot in
the domain, no spaces, compared in lower case.
"""

from __future__ import annotations

import re

from scalable_ai.errors import UserError

NAME_MAX = 200
EMAIL_MAX = 320  # RFC 5321: 64 for the local part + "@" + 255 for the domain
EMAIL_ADDRESS = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def clean_name(
    text: str | None, *, what: str = "a name", field: str = "name", limit: int = NAME_MAX
) -> str:
    """``text`` on one line with whitespace folded; refused naming ``field`` when empty or
    longer than ``limit`` ("a group name is 1 to 200 characters")."""
    name = " ".join((text or "").split())
    if not name or len(name) > limit:
        raise UserError(f"{what} is 1 to {limit} characters", field=field)
    return name


def is_email_address(text: str) -> bool:
    """Whether ``text`` (already stripped and lower-cased) reads as an email address."""
    return bool(EMAIL_ADDRESS.match(text)) and len(text) <= EMAIL_MAX


def clean_email(text: str | None, *, field: str = "email") -> str:
    """The address stripped and lower-cased, or a :class:`UserError` naming ``field``."""
    email = (text or "").strip().lower()
    if not is_email_address(email):
        raise UserError(f"not an email address: {email!r}", field=field)
    return email
