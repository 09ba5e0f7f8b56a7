"""A small OpenID Connect provider for the sign-in tests, run on localhost by the test: a
discovery document, an authorization endpoint that signs in whoever the test says (no
login form), a token endpoint that checks the code and the PKCE verifier and returns an
RS256 ID token signed with ``joserfc`` (authlib's JOSE library), and its public keys. Real HTTP (uvicorn in a
thread), so the platform's ``authlib`` client talks to it as to a university's provider."""

from __future__ import annotations

import base64
import hashlib
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlencode

import uvicorn
from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

CLIENT_ID, CLIENT_SECRET = "sai-course", "s3cret-for-tests"


@dataclass
class Provider:
    url: str = ""
    email: str = "ada@test.example"
    email_verified: bool = True
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048))
    codes: dict[str, dict] = field(default_factory=dict)
    tokens_issued: int = 0

    def app(self) -> Starlette:
        async def discovery(request: Request) -> JSONResponse:
            return JSONResponse(
                {
                    "issuer": self.url,
                    "authorization_endpoint": f"{self.url}/authorize",
                    "token_endpoint": f"{self.url}/token",
                    "jwks_uri": f"{self.url}/jwks",
                    "response_types_supported": ["code"],
                    "id_token_signing_alg_values_supported": ["RS256"],
                    "code_challenge_methods_supported": ["S256"],
                }
            )

        async def authorize(request: Request) -> RedirectResponse:
            q = request.query_params
            assert q["client_id"] == CLIENT_ID and q["response_type"] == "code"
            assert "openid" in q["scope"].split() and q["code_challenge_method"] == "S256"
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "nonce": q["nonce"],
                "challenge": q["code_challenge"],
                "redirect_uri": q["redirect_uri"],
            }
            back = urlencode({"code": code, "state": q["state"]})
            return RedirectResponse(f"{q['redirect_uri']}?{back}", status_code=302)

        async def token(request: Request) -> JSONResponse:
            form = await request.form()
            given = self.codes.pop(str(form.get("code")), None)
            if given is None:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            verifier = str(form.get("code_verifier") or "")
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != given["challenge"]:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            basic = request.headers.get("authorization", "")
            secret_ok = form.get("client_secret") == CLIENT_SECRET or basic == "Basic " + (
                base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            )
            if not secret_ok:
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            now = int(time.time())
            claims = {
                "iss": self.url,
                "sub": "1234567",
                "aud": CLIENT_ID,
                "iat": now,
                "exp": now + 300,
                "nonce": given["nonce"],
                "email": self.email,
                "email_verified": self.email_verified,
            }
            header = {"alg": "RS256", "kid": "test-key"}
            id_token = jwt.encode(header, claims, self.key)
            self.tokens_issued += 1
            return JSONResponse(
                {
                    "access_token": "at",
                    "token_type": "Bearer",
                    "expires_in": 300,
                    "id_token": id_token,
                }
            )

        async def jwks(request: Request) -> JSONResponse:
            public = self.key.as_dict(private=False)
            return JSONResponse({"keys": [{**public, "kid": "test-key", "use": "sig"}]})

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", discovery),
                Route("/authorize", authorize),
                Route("/token", token, methods=["POST"]),
                Route("/jwks", jwks),
            ]
        )


@contextmanager
def running_provider() -> Iterator[Provider]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    provider = Provider(url=f"http://127.0.0.1:{port}")
    server = uvicorn.Server(
        uvicorn.Config(provider.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the test OIDC provider did not start"
        time.sleep(0.05)
    try:
        yield provider
    finally:
        server.should_exit = True
        thread.join(timeout=10)
