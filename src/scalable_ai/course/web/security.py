"""Sign-in security for the web pages: password hashes, the session cookie, CSRF, rate limits.

The issue asks for "passwords hashed by a standard library (argon2 or bcrypt), sessions with
secure cookies, CSRF protection on forms … rate-limited sign-in". Each piece is small:

- Passwords: argon2id through ``argon2-cffi`` (the OWASP first choice), with its own salts
  and parameters stored inside the hash string, so a later parameter bump re-hashes on sign-in.
- Session: one signed cookie (``itsdangerous``, HMAC over a JSON payload) holding a
  per-visitor CSRF secret and, once signed in, a web-session token whose hash the store keeps
  in ``web_sessions`` (so signing out really ends the session). HttpOnly (scripts cannot
  read it), SameSite=Lax (other sites' forms do not carry it), Secure when served over https.
- CSRF: session-bound tokens. Every form carries ``csrf_token``; a POST whose token does not
  equal the session's secret is refused with 403 before any use case runs.
- Rate limit: :class:`~scalable_ai.course.web.signin_limits.SignInLimiter`, counted in the
  database per account at one client and per client, atomically, before any password check.
- Headers: a strict Content-Security-Policy and the usual secure headers on every answer.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, URLSafeTimedSerializer

from scalable_ai.course.web.signin_limits import SignInLimiter

__all__ = ["SignInLimiter", "hash_password", "verify_password"]

SESSION_COOKIE = "sai_session"
SESSION_MAX_AGE_S = 14 * 24 * 3600  # two weeks: a semester's worth of re-sign-ins, not more
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash string (salt and parameters inside it)."""
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when ``password`` matches; a missing or malformed hash never matches."""
    if not password_hash:
        # Spend the same time as a real check so a missing account is not revealed by timing.
        with contextlib.suppress(VerificationError, InvalidHashError):
            _hasher.verify(_DUMMY_HASH, password or "x")
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


_DUMMY_HASH = _hasher.hash("a password nobody has")


def load_or_create_secret(data_dir: Path) -> str:
    """The key that signs session cookies, kept in ``<data_dir>/web-secret`` (mode 0600)
    so sessions survive a restart of ``sai up``."""
    path = data_dir / "web-secret"
    if path.is_file():
        text = path.read_text().strip()
        if len(text) >= 32:
            return text
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key + "\n")
    path.chmod(0o600)
    return key


TYPED_MAX_CHARS = 1000


@dataclass
class CookieSession:
    """What the session cookie carries: the CSRF secret, the web-session token once signed in
    (its hash is in ``web_sessions``, so signing out revokes it server-side) and one-time
    messages for the next page."""

    csrf: str
    token: str | None = None
    flashes: list[tuple[str, str]] = field(default_factory=list)
    # What a refused form held, shown again on the next page (issue 13: a refused hand-in
    # cleared the link typed). Short text only: the cookie stays small.
    typed: dict[str, str] = field(default_factory=dict)
    changed: bool = False

    @classmethod
    def fresh(cls) -> CookieSession:
        return cls(csrf=secrets.token_urlsafe(32), changed=True)

    def sign_in(self, token: str) -> None:
        """Rotate the CSRF secret at sign-in (no token seen before sign-in stays valid)."""
        self.token = token
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True

    def sign_out(self) -> None:
        self.token = None
        self.csrf = secrets.token_urlsafe(32)
        self.changed = True

    def flash(self, kind: str, message: str) -> None:
        """A one-time message shown on the next page (``kind`` is ok or error)."""
        self.flashes.append((kind, message))
        self.changed = True

    def keep_typed(self, values: dict[str, str]) -> None:
        """Keep a refused form's text fields (each up to ``TYPED_MAX_CHARS``) for one page."""
        kept: dict[str, str] = {}
        budget = TYPED_MAX_CHARS * 2
        for name, value in values.items():
            if len(value) <= TYPED_MAX_CHARS and len(value) <= budget:
                kept[name] = value
                budget -= len(value)
        self.typed = kept
        self.changed = True

    def take_typed(self) -> dict[str, str]:
        taken, self.typed = self.typed, {}
        if taken:
            self.changed = True
        return taken

    def take_flashes(self) -> list[tuple[str, str]]:
        taken, self.flashes = self.flashes, []
        if taken:
            self.changed = True
        return taken


class SessionCodec:
    """Signs and reads the session cookie (tampering with the CSRF secret breaks the MAC)."""

    def __init__(self, secret_key: str) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="sai-web-session")

    def dumps(self, session: CookieSession) -> str:
        payload: dict[str, Any] = {"c": session.csrf, "t": session.token}
        if session.flashes:
            payload["f"] = session.flashes
        if session.typed:
            payload["k"] = session.typed
        return self._serializer.dumps(payload)

    def loads(self, cookie: str | None) -> CookieSession:
        if not cookie:
            return CookieSession.fresh()
        try:
            payload = self._serializer.loads(cookie, max_age=SESSION_MAX_AGE_S)
        except BadSignature:
            return CookieSession.fresh()
        return CookieSession(
            csrf=str(payload.get("c") or secrets.token_urlsafe(32)),
            token=payload.get("t"),
            flashes=[(str(k), str(m)) for k, m in payload.get("f") or []],
            typed={str(k): str(v) for k, v in (payload.get("k") or {}).items()},
        )


def csrf_matches(session: CookieSession, submitted: str | None) -> bool:
    """Constant-time comparison of a form's token with the session's secret."""
    return bool(submitted) and hmac.compare_digest(session.csrf, str(submitted))


#: The Content-Security-Policy of every answer. Scripts come only from our own ``/static``
#: files (no inline ``<script>``, no ``onclick=``, no ``javascript:`` URL runs even if one
#: reached a page), nothing is framed or embedded, forms post only to us, and fetches go
#: only to us. Inline ``style=""`` attributes stay allowed (``style-src-attr``): the node
#: board positions its bars with them, and a style attribute cannot run script or, with
#: ``img-src``/``font-src`` at ``'self'``, load anything from elsewhere.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "script-src-attr 'none'",
        "style-src 'self'",
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "object-src 'none'",
        "manifest-src 'self'",
    ]
)
#: The API's Swagger page (``/api/docs``, ``course.api.docs``) runs only this server's files
#: (the packaged Swagger UI, no CDN); Swagger UI styles some elements inline and draws its
#: icons as data: images. It shows no user data.
DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ]
)
DOCS_PATHS = ("/api/docs", "/api/redoc")

SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),  # a handed-in file is never run as a page
    (b"x-frame-options", b"DENY"),  # no page is framed by another site (clickjacking)
    (b"referrer-policy", b"same-origin"),  # calendar feed tokens never leak in Referer
    (b"cross-origin-opener-policy", b"same-origin"),  # a linked page cannot reach back in
    (b"cross-origin-resource-policy", b"same-origin"),  # other sites cannot embed our files
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=()"),
]
#: Sent over https only (a browser ignores it over http): stay on https for a year.
STRICT_TRANSPORT_SECURITY = (b"strict-transport-security", b"max-age=31536000")


def headers_for(scope: Any) -> list[tuple[bytes, bytes]]:
    """The security headers for one request's answer."""
    policy = (
        DOCS_CONTENT_SECURITY_POLICY
        if scope.get("path", "").startswith(DOCS_PATHS)
        else CONTENT_SECURITY_POLICY
    )
    headers = [*SECURITY_HEADERS, (b"content-security-policy", policy.encode())]
    if scope.get("scheme") == "https":
        headers.append(STRICT_TRANSPORT_SECURITY)
    return headers


class SecurityHeaders:
    """Pure ASGI middleware adding the Content-Security-Policy and :data:`SECURITY_HEADERS`
    to every answer, error pages and static files included (it touches only the start of a
    response, so streamed answers stay streamed). A header a view set itself wins."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope)

        async def send_with_headers(message: Any) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *(h for h in extra if h[0] not in names)]
            await send(message)

        await self.app(scope, receive, send_with_headers)
