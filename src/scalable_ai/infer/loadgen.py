"""A load generator for any OpenAI-compatible server: throughput, TTFT and TPOT under load.

Two ways to apply load, as serving benchmarks do (vLLM's ``benchmark_serving``):
- *fixed concurrency*: ``C`` clients, each sending its next request as soon as the last one
  finished; this measures the throughput a batch of ``C`` sustains;
- *fixed request rate*: requests arrive as a Poisson process of ``R`` per second, whether or
  not earlier ones finished; this shows the latency a user sees at a given load.

Every request asks for exactly ``output_tokens`` tokens (``ignore_eos``, greedy), so servers
are compared on equal work. Prompts are random common words (about one token each), with
lengths drawn uniformly around the mean. Reports give output tokens/s, TTFT (time to first
token) and TPOT (time per output token after the first) at p50 and p99.
"""

from __future__ import annotations

import asyncio
import json
import random
import selectors
import socket
import statistics
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from scalable_ai.infer.load_report import (
    LoadReport,
    RequestResult,
    format_report,
    plot_latency_throughput,
    summarize,
)

_COMMON_WORDS = (
    "the of and to in is you that it he was for on are as with his they at be this have "
    "from or one had by word but not what all were we when your can said there use an each "
    "which she do how their if will up other about out many then them these so some her "
    "would make like him into time has look two more write go see number no way could "
    "people my than first water been call who oil its now find long down day did get come "
    "made may part "
)
_WORDS = _COMMON_WORDS.split()


@dataclass
class LoadSpec:
    """Where to send load and what the requests look like."""

    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "smollm2-135m"
    num_requests: int = 32
    prompt_tokens: int = 64
    prompt_spread: float = 0.25  # lengths uniform in mean * (1 +- spread)
    output_tokens: int = 64
    output_spread: float = 0.0
    stream: bool = True
    seed: int = 0
    timeout_s: float = 900.0


def make_requests(spec: LoadSpec) -> list[tuple[str, int]]:
    """(prompt, max_tokens) per request, reproducible from the spec's seed."""
    rng = random.Random(spec.seed)

    def length(mean: int, spread: float) -> int:
        return max(1, round(mean * (1 + rng.uniform(-spread, spread))))

    return [
        (
            " ".join(
                rng.choice(_WORDS) for _ in range(length(spec.prompt_tokens, spec.prompt_spread))
            ),
            length(spec.output_tokens, spec.output_spread),
        )
        for _ in range(spec.num_requests)
    ]


def request_body(spec: LoadSpec, prompt: str, max_tokens: int) -> dict[str, Any]:
    """The completion request every load level sends (greedy, EOS ignored)."""
    body: dict[str, Any] = {
        "model": spec.model,
        "prompt": prompt,
        "max_tokens": max_tokens,
        "temperature": 0.0,
        "ignore_eos": True,
        "stream": spec.stream,
    }
    if spec.stream:
        body["stream_options"] = {"include_usage": True}
    return body


class _Tally:
    """One streamed request's measurements, updated per event: TTFT at the first text."""

    __slots__ = ("chunks", "start", "tokens", "ttft")

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.ttft = 0.0
        self.tokens = 0
        self.chunks = 0

    def on_data(self, data: bytes) -> None:
        if data == b"[DONE]":
            return
        event = _decode_json(data.decode())
        if event.get("usage"):
            self.tokens = event["usage"].get("completion_tokens", self.tokens)
        for choice in event.get("choices", []):
            if choice.get("text"):
                self.chunks += 1
                if not self.ttft:
                    self.ttft = time.perf_counter() - self.start

    def result(self) -> RequestResult:
        latency = time.perf_counter() - self.start
        return RequestResult(True, self.tokens or self.chunks, self.ttft or latency, latency)


#: What a failed request is (counted and reported); anything else is a bug and propagates.
_REQUEST_ERRORS = (httpx.HTTPError, json.JSONDecodeError, OSError, EOFError, ValueError)
_decode_json = json.JSONDecoder().decode


async def send_one(
    client: httpx.AsyncClient, spec: LoadSpec, prompt: str, max_tokens: int
) -> RequestResult:
    """One completion request through httpx (non-streamed, or streamed from an https
    server); TTFT is the first streamed text, the whole answer if not streamed."""
    body = request_body(spec, prompt, max_tokens)
    tally = _Tally()
    try:
        url = f"{spec.base_url}/completions"
        if not spec.stream:
            response = await client.post(url, json=body)
            response.raise_for_status()
            latency = time.perf_counter() - tally.start
            usage = response.json().get("usage") or {}
            return RequestResult(True, usage.get("completion_tokens", max_tokens), latency, latency)
        async for data in _httpx_sse_data(client, url, body):
            tally.on_data(data)
        return tally.result()
    except _REQUEST_ERRORS as error:
        return RequestResult(False, error=f"{type(error).__name__}: {error}")


def drive_streams(
    spec: LoadSpec,
    requests: list[tuple[str, int]],
    concurrency: int | None = None,
    rate: float | None = None,
) -> list[RequestResult]:
    """Streamed requests to a plain-http server, all on one ``selectors`` loop in this thread.

    The load generator shares the machine with the server it measures (2 cores here), so
    its CPU per streamed event is taken from the server: httpx's stack spent ~0.15 ms per
    event, asyncio streams ~0.05 ms (a future and a task wake-up per chunk), this loop
    (a ``select``, a ``recv`` and :class:`_SSEResponse`'s parsing) about half that. A
    connection is opened and its request sent blocking (loopback or LAN: microseconds).
    """
    parts = urlsplit(f"{spec.base_url}/completions")
    address = (parts.hostname or "127.0.0.1", parts.port or 80)
    host = f"{address[0]}:{address[1]}"
    selector = selectors.DefaultSelector()
    results: list[RequestResult] = []
    pending = iter(requests)
    arrivals: list[float] = []  # fixed rate: start times after the first, Poisson gaps
    if rate is not None:
        rng = random.Random(spec.seed + 1)
        clock = 0.0
        for _ in requests[1:]:
            clock += rng.expovariate(rate)
            arrivals.append(clock)
        arrivals.reverse()  # popped from the end
    deadlines: dict[socket.socket, float] = {}

    def launch(skip_refused: bool) -> None:
        """Start the next request, if any; one refused at once is recorded as failed and,
        with ``skip_refused`` (fixed concurrency), the next one is tried in its place."""
        for prompt, max_tokens in pending:
            payload = json.dumps(request_body(spec, prompt, max_tokens)).encode()
            head = (
                f"POST {parts.path or '/'} HTTP/1.1\r\nHost: {host}\r\n"
                "Content-Type: application/json\r\nAccept: text/event-stream\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n"
            )
            tally = _Tally()
            sock = None
            try:
                sock = socket.create_connection(address, timeout=spec.timeout_s)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.sendall(head.encode() + payload)
                sock.setblocking(False)
            except OSError as error:
                if sock is not None:
                    sock.close()
                results.append(RequestResult(False, error=f"{type(error).__name__}: {error}"))
                if skip_refused:
                    continue
                return
            parser = _SSEResponse(parts.geturl(), tally.on_data)
            selector.register(sock, selectors.EVENT_READ, (parser, tally))
            deadlines[sock] = tally.start + spec.timeout_s
            return

    def finish(sock: socket.socket, tally: _Tally, error: BaseException | None) -> None:
        selector.unregister(sock)
        sock.close()
        del deadlines[sock]
        if error is None:
            results.append(tally.result())
        else:
            results.append(RequestResult(False, error=f"{type(error).__name__}: {error}"))
        if rate is None:  # fixed concurrency: the next request takes this one's place
            launch(skip_refused=True)

    try:
        for _ in range(concurrency or 1):
            launch(skip_refused=rate is None)
        start = time.perf_counter()
        while deadlines or arrivals:
            now = time.perf_counter()
            while arrivals and start + arrivals[-1] <= now:
                arrivals.pop()
                launch(skip_refused=False)
            wait = min(deadlines.values(), default=now + 1.0) - now
            if arrivals:
                wait = min(wait, start + arrivals[-1] - now)
            for key, _ in selector.select(max(wait, 0.0)):
                sock, (parser, tally) = key.fileobj, key.data
                try:
                    data = sock.recv(65536)  # type: ignore[union-attr]
                    if data:
                        parser.feed(data)
                    else:
                        parser.close()
                except BlockingIOError:
                    continue
                except _REQUEST_ERRORS as error:
                    finish(sock, tally, error)  # type: ignore[arg-type]
                    continue
                if parser.done:
                    finish(sock, tally, None)  # type: ignore[arg-type]
            now = time.perf_counter()
            for sock, deadline in list(deadlines.items()):
                if deadline <= now:
                    tally = selector.get_key(sock).data[1]
                    finish(sock, tally, TimeoutError(f"no answer within {spec.timeout_s} s"))
    finally:
        for sock in list(deadlines):
            selector.unregister(sock)
            sock.close()
        selector.close()
    return results


class _SSEResponse:
    """An HTTP/1.1 response parsed as it arrives: status line and headers, then the body
    (chunked or up to the connection's close) split into server-sent events, each event's
    ``data`` fields handed to ``on_data``. ``feed`` and ``close`` raise on a non-200 status
    or a malformed chunk; ``done`` is set when the body has ended."""

    def __init__(self, url: str, on_data: Callable[[bytes], None]) -> None:
        self.url = url
        self.on_data = on_data
        self.done = False
        self.buffer = b""  # received, not yet parsed (head or chunk framing)
        self.in_head = True
        self.chunked = False
        self.pending = b""  # body text not yet split into events

    def close(self) -> None:
        """The connection closed: the end of a close-delimited body, else an error."""
        if self.done:
            return
        if self.in_head or self.chunked:
            raise EOFError(f"the connection closed before the response ended: {self.url}")
        self._end_body()

    def feed(self, data: bytes) -> None:
        buffer = self.buffer + data if self.buffer else data
        if self.in_head:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                end = buffer.find(b"\n\n")
                if end < 0:
                    self.buffer = buffer
                    return
                rest = buffer[end + 2 :]
            else:
                rest = buffer[end + 4 :]
            self._read_head(buffer[:end])
            self.in_head = False
            buffer = rest
        if not self.chunked:
            self.buffer = b""
            if buffer:
                self._body(buffer)
            return
        while True:
            line_end = buffer.find(b"\n")
            if line_end < 0:
                break
            size = int(buffer[:line_end].split(b";")[0], 16)
            if size == 0:
                self.buffer = b""
                self._end_body()
                return
            start = line_end + 1
            if len(buffer) < start + size + 2:
                break
            self._body(buffer[start : start + size])
            buffer = buffer[start + size + 2 :]
        self.buffer = buffer

    def _read_head(self, head: bytes) -> None:
        lines = head.replace(b"\r\n", b"\n").split(b"\n")
        status = lines[0].split(b" ", 2)
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"transfer-encoding":
                self.chunked = b"chunked" in value.lower()
        if len(status) < 2 or status[1] != b"200":
            raise httpx.HTTPStatusError(
                f"HTTP {b' '.join(status[1:]).decode(errors='replace').strip()} from {self.url}",
                request=httpx.Request("POST", self.url),
                response=httpx.Response(int(status[1]) if len(status) > 1 else 0),
            )

    def _body(self, data: bytes) -> None:
        pending = self.pending + data if self.pending else data
        if b"\r" in data:
            pending = pending.replace(b"\r\n", b"\n")
        *complete, self.pending = pending.split(b"\n\n")
        for event in complete:
            for value in _data_fields(event):
                self.on_data(value)

    def _end_body(self) -> None:
        for value in _data_fields(self.pending):  # a last event without its blank line
            self.on_data(value)
        self.pending = b""
        self.done = True


def _data_fields(event: bytes) -> list[bytes]:
    return [
        line[6:] if line.startswith(b"data: ") else line[5:]
        for line in event.split(b"\n")
        if line.startswith(b"data:")
    ]


async def _httpx_sse_data(
    client: httpx.AsyncClient, url: str, body: dict[str, Any]
) -> AsyncIterator[bytes]:
    """``sse_data`` through httpx, for https servers."""
    async with client.stream("POST", url, json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("data:"):
                yield line[6:].encode() if line.startswith("data: ") else line[5:].encode()


async def run_load(
    spec: LoadSpec, concurrency: int | None = None, rate: float | None = None
) -> LoadReport:
    """Apply one load level (fixed concurrency or fixed Poisson rate) and summarize it."""
    requests = make_requests(spec)
    if spec.stream and urlsplit(spec.base_url).scheme == "http":
        start = time.perf_counter()
        results = await asyncio.to_thread(drive_streams, spec, requests, concurrency, rate)
        duration = time.perf_counter() - start
        mode = "concurrency" if concurrency else "rate"
        return summarize(results, duration, mode, float(concurrency or rate or 0))
    results = []
    limits = httpx.Limits(max_connections=max(concurrency or 0, 256))
    async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(spec.timeout_s)) as client:
        start = time.perf_counter()
        if concurrency is not None:
            pending = iter(requests)

            async def worker() -> None:
                for prompt, max_tokens in pending:
                    results.append(await send_one(client, spec, prompt, max_tokens))

            await asyncio.gather(*(worker() for _ in range(concurrency)))
        else:
            assert rate is not None and rate > 0
            rng = random.Random(spec.seed + 1)
            tasks = []
            for prompt, max_tokens in requests:
                tasks.append(asyncio.create_task(send_one(client, spec, prompt, max_tokens)))
                await asyncio.sleep(rng.expovariate(rate))
            results = list(await asyncio.gather(*tasks))
        duration = time.perf_counter() - start
    return summarize(
        results, duration, "concurrency" if concurrency else "rate", float(concurrency or rate or 0)
    )


def run_sweep(
    spec: LoadSpec,
    concurrencies: list[int],
    rates: list[float],
    png: Path | None = None,
    label: str = "server",
) -> list[LoadReport]:
    """Every load level in turn, printed and logged as one run (with the PNG as artifact)."""
    from scalable_ai.runs import open_run

    levels: list[tuple[int | None, float | None]] = [(c, None) for c in concurrencies]
    levels += [(None, r) for r in rates]
    reports = []
    config = {**asdict(spec), "concurrencies": concurrencies, "rates": rates, "label": label}
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    progress = Progress(
        "{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    with open_run("bench.serve", config=config, seed=spec.seed) as run, progress:
        task = progress.add_task(label, total=len(levels))
        for step, (concurrency, rate) in enumerate(levels):
            level = f"concurrency {concurrency}" if concurrency else f"{rate} req/s"
            progress.update(task, description=f"{label}: {level}, {spec.num_requests} requests")
            report = asyncio.run(run_load(spec, concurrency=concurrency, rate=rate))
            reports.append(report)
            progress.advance(task)
            print(format_report(label, report), flush=True)
            run.log(
                step, **{k: v for k, v in asdict(report).items() if k not in ("mode", "errors")}
            )
        plot_latency_throughput({label: reports}, run.artifact("latency_throughput.png"))
        if png is not None:
            plot_latency_throughput({label: reports}, png)
        best = max(reports, key=lambda r: r.output_tokens_per_s)
        run.summary(
            best_output_tokens_per_s=best.output_tokens_per_s,
            ttft_p50_s=statistics.median(r.ttft_p50 for r in reports),
        )
    return reports
