"""Sign-in with the institution's OpenID Connect provider (issue 13: "sign-in as universities
do it"), beside passwords; staff may require it (``require_oidc``).

The authorization code flow with PKCE (RFC 7636) and a nonce, done by ``authlib``: the
provider's discovery document names its endpoints; ``authlib``'s OAuth 2 client builds the
authorization URL and exchanges the code; ``authlib.jose`` checks the ID token's signature
against the provider's published keys (``joserfc``, authlib's own JOSE library) and its
issuer, audience, nonce and expiry (by the
wall clock: the token comes from a real provider, whatever the course clock says). The
token's ``email`` (refused when the provider says it is not verified) is looked up on the
roster; nobody is created here.

The state, nonce, PKCE verifier and the page to return to wait in a short-lived,
HTTP-only cookie between the two legs; a callback whose ``state`` does not match it is
refused (a forged callback cannot sign anyone in).
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from scalable_ai.errors import UserError
from scalable_ai.settings import Settings

PENDING_COOKIE = "sai_oidc"
PENDING_MAX_AGE_S = 600
SCOPE = "openid email profile"
_DISCOVERY_TTL_S = 3600
_discovered: dict[str, tuple[float, dict[str, Any]]] = {}


class SignInRefused(UserError):
    status_code = 401


@dataclass(frozen=True)
class Pending:
    """What the callback must see again: the state, nonce and PKCE verifier we sent."""

    state: str
    nonce: str
    verifier: str
    next_url: str

    def dumps(self) -> str:
        return json.dumps([self.state, self.nonce, self.verifier, self.next_url])

    @classmethod
    def loads(cls, text: str | None) -> Pending | None:
        try:
            state, nonce, verifier, next_url = json.loads(text or "")
        except (ValueError, TypeError):
            return None
        return cls(str(state), str(nonce), str(verifier), str(next_url))


def configured(settings: Settings) -> bool:
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def discovery(settings: Settings) -> dict[str, Any]:
    """The provider's ``/.well-known/openid-configuration`` (cached for an hour)."""
    issuer = settings.oidc_issuer.rstrip("/")
    cached = _discovered.get(issuer)
    if cached and time.monotonic() - cached[0] < _DISCOVERY_TTL_S:
        return cached[1]
    try:
        document = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=10).json()
    except (httpx.HTTPError, ValueError) as exc:
        raise SignInRefused(
            f"the sign-in provider {issuer} did not answer ({type(exc).__name__}); try again",
            field="oidc",
        ) from None
    _discovered[issuer] = (time.monotonic(), document)
    return document


def _client(settings: Settings, redirect_uri: str) -> OAuth2Client:
    return OAuth2Client(
        settings.oidc_client_id,
        settings.oidc_client_secret or None,
        scope=SCOPE,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        timeout=10,
    )


def start(settings: Settings, redirect_uri: str, next_url: str) -> tuple[str, Pending]:
    """Where to send the browser, and what to keep until it comes back."""
    document = discovery(settings)
    pending = Pending(
        secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48), next_url
    )
    with _client(settings, redirect_uri) as client:
        url, _ = client.create_authorization_url(
            document["authorization_endpoint"],
            state=pending.state,
            nonce=pending.nonce,
            code_verifier=pending.verifier,
        )
    return url, pending


def finish(
    settings: Settings, redirect_uri: str, pending: Pending | None, params: dict[str, str]
) -> str:
    """The verified e-mail of whoever signed in at the provider, or a refusal in words."""
    if "error" in params:
        raise SignInRefused(
            f"the sign-in provider said: {params.get('error_description') or params['error']}",
            field="oidc",
        )
    if pending is None or not secrets.compare_digest(params.get("state", ""), pending.state):
        raise SignInRefused(
            "this sign-in link is stale or was not started here; start again", field="state"
        )
    document = discovery(settings)
    with _client(settings, redirect_uri) as client:
        try:
            token = client.fetch_token(
                document["token_endpoint"],
                code=params.get("code", ""),
                code_verifier=pending.verifier,
            )
        except Exception as exc:  # authlib raises OAuthError; httpx its own
            raise SignInRefused(f"the code could not be exchanged ({exc})", field="code") from None
    try:
        keys = KeySet.import_key_set(httpx.get(document["jwks_uri"], timeout=10).json())
        decoded = jwt.decode(token["id_token"], keys, algorithms=["RS256", "ES256", "PS256"])
        jwt.JWTClaimsRegistry(
            now=int(time.time()),
            leeway=60,
            iss={"essential": True, "value": document.get("issuer", settings.oidc_issuer)},
            aud={"essential": True, "value": settings.oidc_client_id},
            nonce={"essential": True, "value": pending.nonce},
            exp={"essential": True},
        ).validate(decoded.claims)
        claims = decoded.claims
    except (JoseError, KeyError, ValueError, httpx.HTTPError) as exc:
        raise SignInRefused(f"the identity token is not valid ({exc})", field="id_token") from None
    email = str(claims.get("email") or "").strip().lower()
    if not email:
        raise SignInRefused("the sign-in provider gave no e-mail address", field="email")
    if claims.get("email_verified") is False:
        raise SignInRefused(f"the provider has not verified {email}", field="email")
    return email


def sign_in_choices(settings: Settings, session: Any) -> dict[str, Any]:
    """What the sign-in page offers: the provider's button when configured, and the password
    form unless staff require the provider."""
    from scalable_ai.course.service.course import settings_of

    on = configured(settings)
    try:
        required = on and settings_of(session).require_oidc
    except UserError:  # no course loaded yet
        required = False
    return {"oidc_on": on, "oidc_only": required, "oidc_name": settings.oidc_name}
