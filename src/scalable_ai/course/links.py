"""Links are data, never code: the one rule for every link the platform stores or shows.

A hand-in, a project deliverable or its code is "a link a reader can open": an absolute
``http``/``https`` URL with a host, at most :data:`MAX_LINK_LENGTH` characters, without
whitespace or control characters. Anything else (``javascript:``, ``data:``, ``vbscript:``,
``//evil``, a scheme hidden behind a tab or a leading space) is refused when it is stored
(:func:`check_link`: the API's :data:`WebLink` type, the web forms, the CLI and the import all
go through it) and never becomes an ``href`` when it is shown (:func:`safe_href`), so a row
stored before this rule existed cannot run either. The one other link a page shows is a
file the platform keeps itself (``/uploads/<sha256>/<name>``, :func:`is_upload_link`).

Django's ``URLValidator`` and OWASP's XSS cheat sheet ("only allow http and https URLs in
href") are the yardstick; the check is small enough to read, so no library is needed.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

from scalable_ai.errors import UserError

MAX_LINK_LENGTH = 1000
ALLOWED_SCHEMES = ("http", "https")
UPLOAD_LINK = re.compile(r"/uploads/[0-9a-f]{64}/[A-Za-z0-9._-]{1,120}")
_HTTP_START = re.compile(r"https?://", re.IGNORECASE)
_HOST = re.compile(r"[A-Za-z0-9.\-\[\]:_~%]+")
_UNSAFE_CHARS = re.compile(r"[\x00-\x20\x7f<>\"'`\\]")

#: Every stored column that holds a link: checked on import, cleaned by migration 0300.
LINK_COLUMNS: tuple[tuple[str, str], ...] = (
    ("submissions", "link"),
    ("project_deliverables", "link"),
    ("project_deliverables", "code_link"),
)


def link_problem(url: str) -> str | None:
    """Why ``url`` is not a link a reader can safely open, or None when it is."""
    if len(url) > MAX_LINK_LENGTH:
        return f"a link is at most {MAX_LINK_LENGTH} characters"
    if not _HTTP_START.match(url):
        return "a link starts with https:// (or http://)"
    if _UNSAFE_CHARS.search(url):
        return "a link has no spaces, quotes, angle brackets or control characters"
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a malformed port
    except ValueError:
        return "this is not a well-formed link"
    del port
    if parts.scheme.lower() not in ALLOWED_SCHEMES:
        return "a link starts with https:// (or http://)"
    if not parts.hostname or not _HOST.fullmatch(parts.netloc.rpartition("@")[2]):
        return "a link names a host, like https://example.org/report.pdf"
    return None


def check_link(url: str, field: str = "link") -> str:
    """``url`` stripped of surrounding blanks when it is an http(s) link; otherwise a
    :class:`UserError` naming ``field`` and the reason."""
    url = (url or "").strip()
    problem = link_problem(url)
    if problem is not None:
        raise UserError(problem, field=field)
    return url


def is_upload_link(url: str) -> bool:
    """A file the platform stores itself (a hand-in's upload)."""
    return bool(UPLOAD_LINK.fullmatch(url))


def safe_href(url: str | None) -> str | None:
    """The link when a page may make it an ``href`` (an http(s) link or one of our uploads),
    else None: the page shows the text, not a link (for rows stored before the rule)."""
    if not url:
        return None
    if is_upload_link(url) or link_problem(url) is None:
        return url
    return None


def _validated(value: str) -> str:
    problem = link_problem(value.strip())
    if problem is not None:
        raise ValueError(problem)
    return value.strip()


#: The API's link type: an http(s) URL of at most 1000 characters (422 otherwise).
WebLink = Annotated[str, AfterValidator(_validated)]
