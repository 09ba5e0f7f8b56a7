"""How much one request, one client and one group may ask of the platform.

Django's secure defaults are the model (``DATA_UPLOAD_MAX_MEMORY_SIZE``: safe unless someone
turns it off). Every number has a default that fits the course and an environment variable a
deployment can set (``docs/security.md``):

- a request body is at most :attr:`WebLimits.body_bytes` (1 MiB), counted while it is read
  (FastAPI's ``max_body_size``, Starlette's ``RequestBodyLimitMiddleware``): a larger body is
  answered 413 after at most that many bytes, before any parsing; the few upload routes
  raise it for themselves (:data:`UPLOAD_ROUTE_BYTES`);
- a group keeps at most :attr:`WebLimits.group_upload_quota_bytes` of handed-in files;
- one client sends at most :attr:`WebLimits.requests_per_minute` requests a minute and has
  at most :attr:`WebLimits.concurrent_per_client` in flight (``ratelimit``);
- the client is the peer address, or, only when that peer is a proxy the deployment named in
  ``SAI_TRUSTED_PROXIES``, the address the proxy put in ``X-Forwarded-For``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from scalable_ai.course.upload_limits import UPLOAD_ROUTE_BYTES, MiB
from scalable_ai.errors import UserError
from scalable_ai.settings import get_settings

__all__ = ["UPLOAD_ROUTE_BYTES", "TrustedProxyHeaders", "WebLimits"]


@dataclass(frozen=True)
class WebLimits:
    """The limits one app enforces; :meth:`from_env` reads a deployment's choices."""

    body_bytes: int = 1 * MiB
    group_upload_quota_bytes: int = 500 * MiB
    requests_per_minute: int = 600
    concurrent_per_client: int = 16
    trusted_proxies: tuple[str, ...] = ()

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> WebLimits:
        """The limits from ``SAI_*`` variables (read and validated by ``settings.py``)."""
        settings = get_settings(environ)
        values: dict[str, Any] = {}
        for name, field, scale in (
            ("max_body_mib", "body_bytes", MiB),
            ("group_upload_quota_mib", "group_upload_quota_bytes", MiB),
            ("requests_per_minute", "requests_per_minute", 1),
            ("concurrent_per_client", "concurrent_per_client", 1),
        ):
            number = getattr(settings, name)
            if number is not None:
                values[field] = number * scale
        proxies = tuple(p.strip() for p in settings.trusted_proxies.split(",") if p.strip())
        for proxy in proxies:
            try:
                ipaddress.ip_network(proxy, strict=False)
            except ValueError:
                raise UserError(
                    f"SAI_TRUSTED_PROXIES: {proxy!r} is not an address or network",
                    field="SAI_TRUSTED_PROXIES",
                ) from None
        values["trusted_proxies"] = proxies
        return cls(**values)

    def is_trusted_proxy(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in ipaddress.ip_network(p, strict=False) for p in self.trusted_proxies)

    def client_address(self, scope: dict[str, Any]) -> str:
        """Who sent this request: the peer, unless the peer is a trusted proxy, in which case
        the right-most ``X-Forwarded-For`` address that is not itself a trusted proxy (the
        left part of that header is whatever the client wrote, so it is never believed)."""
        peer = scope.get("client")
        address = str(peer[0]) if peer else "unknown"
        if not self.trusted_proxies or not self.is_trusted_proxy(address):
            return address
        forwarded = [
            value.decode("latin-1")
            for name, value in scope.get("headers", ())
            if name == b"x-forwarded-for"
        ]
        hops = [hop.strip() for value in forwarded for hop in value.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self.is_trusted_proxy(hop):
                try:
                    return str(ipaddress.ip_address(hop))
                except ValueError:
                    return address
        return address


class TrustedProxyHeaders:
    """Pure ASGI middleware: when the peer is a trusted proxy, the request's client is the
    address the proxy forwarded (:meth:`WebLimits.client_address`) and its scheme is the one
    in ``X-Forwarded-Proto`` (so cookies are ``Secure`` behind a TLS proxy). From any other
    peer both headers are ignored, whoever wrote them."""

    def __init__(self, app: Any, limits: WebLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        peer = scope.get("client")
        if (
            self.limits.trusted_proxies
            and scope["type"] in ("http", "websocket")
            and peer
            and self.limits.is_trusted_proxy(str(peer[0]))
        ):
            scope = dict(scope)
            scope["client"] = (self.limits.client_address(scope), peer[1])
            proto = (
                dict(scope.get("headers", ()))
                .get(b"x-forwarded-proto", b"")
                .decode("latin-1")
                .split(",")[-1]
                .strip()
                .lower()
            )
            if proto in ("http", "https"):
                scope["scheme"] = proto
        await self.app(scope, receive, send)
