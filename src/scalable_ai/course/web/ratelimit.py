"""Per-client request limits: a rate (the ``limits`` library's moving window) and a number of
requests in flight, so that one client cannot slow the platform down for everyone else.

Seen before this module: 200 concurrent page views from one client raised other people's
sign-in time from 19 ms to 2.6 s for 45 s. Now a client with more than
``WebLimits.concurrent_per_client`` requests in flight, or more than ``WebLimits.requests_per_minute``
in the last minute, is answered 429 with ``Retry-After`` at once, before routing, reading the
body or touching the database. Static files are exempt (a page load fetches several).

The counts live in this process (``limits``' memory storage, whose entries expire, so memory
stays bounded): ``sai up`` is one process. A deployment with several workers divides the
budget by the worker count, or puts the same limit in its proxy (``docs/security.md``).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from scalable_ai.course.web.limits import WebLimits

EXEMPT_PREFIXES = ("/static/",)


class ClientRateLimit:
    """Pure ASGI middleware refusing a client's request over its rate or its concurrency."""

    def __init__(self, app: Any, limits: WebLimits) -> None:
        self.app = app
        self.limits = limits
        self.concurrent_per_client = limits.concurrent_per_client
        self._window = MovingWindowRateLimiter(MemoryStorage())
        self._rate = RateLimitItemPerMinute(limits.requests_per_minute)
        self._in_flight: Counter[str] = Counter()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope.get("path", "").startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        peer = scope.get("client")
        client = str(peer[0]) if peer else "unknown"
        if self._in_flight[client] >= self.concurrent_per_client:
            await _too_many(
                scope,
                send,
                1,
                f"at most {self.concurrent_per_client} requests at a time from one client",
            )
            return
        if not self._window.hit(self._rate, client):
            reset, _remaining = self._window.get_window_stats(self._rate, client)
            await _too_many(
                scope,
                send,
                max(1, int(reset - time.time()) + 1),
                f"at most {self.limits.requests_per_minute} requests a minute from one client",
            )
            return
        self._in_flight[client] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self._in_flight[client] -= 1
            if self._in_flight[client] <= 0:
                del self._in_flight[client]


async def _too_many(scope: Any, send: Any, retry_after: int, why: str) -> None:
    """429 with ``Retry-After``: JSON for the API, a short text for pages."""
    message = f"too many requests: {why}; try again in {retry_after} s"
    if scope.get("path", "").startswith("/api"):
        body, kind = json.dumps({"detail": message}).encode(), b"application/json"
    else:
        body, kind = message.encode(), b"text/plain; charset=utf-8"
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", kind),
                (b"retry-after", str(retry_after).encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
