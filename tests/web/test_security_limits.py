"""Bounded requests (issue 21, finding 2): "1 GiB JSON to POST /api/threads → 401 but server
memory peaked at 3.3 GB first; 2 GiB multipart to POST /sign-in → 403 after ~2 GB written to
temporary disk; a 1 GiB 'PDF' to a scribe upload is read whole …; a refused late hand-in still
leaves its file in uploads/; no per-group quota; 200 concurrent GET /qa from one client …".

The oversized bodies are streamed straight into the ASGI app, chunk by chunk, from a generator
that makes them up as they are asked for (nothing near a gigabyte is ever held): each test
counts how many bytes the platform pulled before answering.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from scalable_ai.course.demo import DEMO_CREDENTIALS
from scalable_ai.course.web.limits import WebLimits
from scalable_ai.course.web.security import SESSION_COOKIE
from tests.web.conftest import open_platform, post_form, sign_in

STUDENT = next((e, p) for role, e, p in DEMO_CREDENTIALS if role == "student")
MiB = 1024 * 1024
GiB = 1024 * MiB
CHUNK = MiB
NONE_USED = {
    "integrity_external_code": "none",
    "integrity_sources": "none",
    "integrity_ai_assistance": "none",
}


MULTIPART = "multipart/form-data; boundary=x"
#: The start of a well-formed multipart body whose one file part then goes on and on.
FILE_PART = (
    b'--x\r\nContent-Disposition: form-data; name="pdf"; filename="a.pdf"\r\n'
    b"Content-Type: application/pdf\r\n\r\n%PDF-1.4\n"
)


def stream_into(
    app: Any,
    method: str,
    path: str,
    *,
    size: int,
    headers: dict[str, str],
    client: str = "203.0.113.7",
    send_length: bool = True,
    start: bytes = b"",
) -> tuple[int, int]:
    """Send a ``size``-byte body (``start``, then filler made up as it is read) to ``app``;
    returns (status, bytes the app read)."""
    read = 0
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read >= size:
            return {"type": "http.disconnect"}
        chunk = min(CHUNK, size - read)
        body = (start + b"a" * (chunk - len(start))) if read == 0 else b"a" * chunk
        read += chunk
        return {"type": "http.request", "body": body, "more_body": read < size}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    if send_length:
        raw.append((b"content-length", str(size).encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *raw],
        "client": (client, 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    asyncio.run(app(scope, receive, send))
    return status, read


def test_an_anonymous_gigabyte_to_the_api_is_refused_before_a_byte_is_read(demo_platform):
    chunked = stream_into(
        demo_platform.app,
        "POST",
        "/api/threads",
        size=GiB,
        send_length=False,
        headers={"content-type": "application/json"},
    )
    assert chunked == (401, 0)  # no credentials: refused before the body
    announced = stream_into(
        demo_platform.app,
        "POST",
        "/api/threads",
        size=GiB,
        headers={"content-type": "application/json"},
    )
    assert announced[1] == 0 and announced[0] in (401, 413)


def test_an_anonymous_multipart_post_without_a_session_is_refused_unread(demo_platform):
    status, read = stream_into(
        demo_platform.app,
        "POST",
        "/sign-in",
        size=2 * GiB,
        send_length=False,
        start=FILE_PART,
        headers={"content-type": MULTIPART},
    )
    assert (status, read) == (403, 0)


def test_a_sign_in_body_is_cut_off_at_one_mebibyte_while_it_streams(demo_platform):
    demo_platform.client.get("/sign-in")
    cookie = demo_platform.client.cookies[SESSION_COOKIE]
    status, read = stream_into(
        demo_platform.app,
        "POST",
        "/sign-in",
        size=2 * GiB,
        send_length=False,  # chunked: only counting can stop it
        start=FILE_PART,
        headers={"content-type": MULTIPART, "cookie": f"{SESSION_COOKIE}={cookie}"},
    )
    assert status == 413
    assert read <= 1 * MiB + CHUNK


def test_a_gigabyte_pdf_is_refused_after_the_scribe_limit_not_read_whole(demo_platform):
    sign_in(demo_platform.client, *STUDENT)
    cookie = demo_platform.client.cookies[SESSION_COOKIE]
    status, read = stream_into(
        demo_platform.app,
        "POST",
        "/lectures/L3/scribe",
        size=GiB,
        send_length=False,
        start=FILE_PART,
        headers={"content-type": MULTIPART, "cookie": f"{SESSION_COOKIE}={cookie}"},
    )
    assert status == 413
    assert read <= 11 * MiB


def test_a_refused_late_hand_in_leaves_no_file_in_uploads(demo_platform):
    sign_in(demo_platform.client, *STUDENT)
    demo_platform.set_clock("2026-03-14T10:00")  # A3 was due Mar 10: days late
    answer = post_form(
        demo_platform.client,
        "/assignments/A3",
        "/assignments/A3/submit",
        NONE_USED,
        files={"file": ("a3.pdf", b"%PDF-1.4 " + b"x" * 4096)},
    )
    assert answer.status_code == 303
    uploads = Path(demo_platform.settings.data_dir) / "uploads"
    assert not uploads.exists() or not any(p.is_file() for p in uploads.rglob("*"))


def test_a_group_cannot_store_more_than_its_quota(demo_database, tmp_path):
    platform = open_platform(
        demo_database, tmp_path, limits=WebLimits(group_upload_quota_bytes=100_000)
    )
    with platform.client:
        sign_in(platform.client, *STUDENT)
        first = post_form(
            platform.client,
            "/assignments/A3",
            "/assignments/A3/submit",
            NONE_USED,
            files={"file": ("a.pdf", b"1" * 60_000)},
        )
        second = post_form(
            platform.client,
            "/assignments/A3",
            "/assignments/A3/submit",
            NONE_USED,
            files={"file": ("b.pdf", b"2" * 60_000)},
        )
        page = platform.client.get("/assignments/A3").text
    assert first.status_code == second.status_code == 303
    assert "group&#39;s files would take more than" in page or "files would take" in page
    kept = [p for p in (Path(platform.settings.data_dir) / "uploads").rglob("*") if p.is_file()]
    assert [p.name for p in kept] == ["a.pdf"]
    platform.engine.dispose()


def test_one_client_over_its_rate_gets_429_and_others_do_not(demo_database, tmp_path):
    platform = open_platform(demo_database, tmp_path, limits=WebLimits(requests_per_minute=5))
    with platform.client:
        answers = [platform.client.get("/sign-in").status_code for _ in range(6)]
        refused = platform.client.get("/sign-in")
        other = stream_into(
            platform.app, "GET", "/sign-in", size=0, headers={}, client="198.51.100.9"
        )
        static = platform.client.get("/static/site.css").status_code
    assert answers[:5] == [200] * 5 and answers[5] == 429
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "content-security-policy" in refused.headers
    assert other[0] == 200 and static == 200
    platform.engine.dispose()


def test_one_client_cannot_hold_more_than_its_share_of_requests_in_flight():
    from scalable_ai.course.web.ratelimit import ClientRateLimit

    release = asyncio.Event()

    async def slow_app(scope: Any, receive: Any, send: Any) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    limited = ClientRateLimit(slow_app, WebLimits(concurrent_per_client=3))

    async def one(client: str) -> int:
        status = 0

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        scope = {"type": "http", "path": "/qa", "client": (client, 1), "headers": []}
        await limited(scope, None, send)
        return status

    async def crowd() -> list[int]:
        tasks = [asyncio.create_task(one("203.0.113.7")) for _ in range(10)]
        tasks.append(asyncio.create_task(one("198.51.100.9")))
        await asyncio.sleep(0.05)
        release.set()
        return list(await asyncio.gather(*tasks))

    statuses = asyncio.run(crowd())
    assert statuses[:10].count(200) == 3 and statuses[:10].count(429) == 7
    assert statuses[10] == 200  # another client is not held up


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy():
    nobody = WebLimits()
    proxy = WebLimits(trusted_proxies=("10.0.0.0/8",))
    scope = {
        "client": ("10.1.2.3", 1),
        "headers": [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.7, 10.9.9.9")],
    }
    assert nobody.client_address(scope) == "10.1.2.3"  # off by default
    assert proxy.client_address(scope) == "203.0.113.7"  # right-most hop not a proxy
    direct = {"client": ("198.51.100.9", 1), "headers": [(b"x-forwarded-for", b"6.6.6.6")]}
    assert proxy.client_address(direct) == "198.51.100.9"  # not from the proxy: ignored
    assert WebLimits.from_env({"SAI_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1"}).trusted_proxies == (
        "10.0.0.0/8",
        "127.0.0.1",
    )


def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(demo_database, tmp_path):
    """Behind a proxy every client used to count as 127.0.0.1; from anyone else the header
    is ignored, so nobody can pick a fresh address per request."""
    platform = open_platform(
        demo_database,
        tmp_path,
        limits=WebLimits(requests_per_minute=2, trusted_proxies=("10.0.0.1",)),
    )

    def get(peer: str, forwarded: str) -> int:
        return stream_into(
            platform.app,
            "GET",
            "/sign-in",
            size=0,
            client=peer,
            headers={"x-forwarded-for": forwarded},
        )[0]

    with platform.client:
        via_proxy = [get("10.0.0.1", "203.0.113.1") for _ in range(3)]
        other_behind_proxy = get("10.0.0.1", "203.0.113.2")
        direct = [get("198.51.100.9", f"192.0.2.{i}") for i in range(3)]
    assert via_proxy == [200, 200, 429]
    assert other_behind_proxy == 200
    assert direct == [200, 200, 429]  # a forged header from a non-proxy changes nothing
    platform.engine.dispose()
