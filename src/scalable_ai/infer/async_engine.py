"""The engine in its own thread, so a server's event loop stays responsive while it computes.

One background thread owns the :class:`LLMEngine` and loops: take new requests and aborts
from a thread-safe inbox, run one step, and hand each request's output to the asyncio queue
of the coroutine that waits for it (one ``loop.call_soon_threadsafe`` per step). A step of a
135M-parameter model takes tens of milliseconds on a CPU; running it on the event loop would
stall every other connection (health checks, metrics, new requests) for that long.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import logging
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from scalable_ai.errors import UserError
from scalable_ai.infer.engine import LLMEngine, RequestOutput
from scalable_ai.infer.sampling import SamplingParams
from scalable_ai.infer.scoring import ScoredToken, score_tokens

logger = logging.getLogger(__name__)


class _OutputStream:
    """One request's outputs on its event loop: what the steps delivered, and the future its
    coroutine waits on when there is nothing yet. (An ``asyncio.Queue`` does the same with
    more calls per item: a put and a get run once per token per stream on the loop that
    every stream shares.)"""

    __slots__ = ("items", "waiter")

    def __init__(self) -> None:
        self.items: collections.deque[RequestOutput | BaseException] = collections.deque()
        self.waiter: asyncio.Future[None] | None = None

    def put(self, item: RequestOutput | BaseException) -> None:
        """On the stream's event loop: queue ``item`` and wake the waiting coroutine."""
        self.items.append(item)
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


@dataclass
class _Submission:
    request_id: str
    prompt: str | list[int]
    params: SamplingParams
    stream: _OutputStream
    loop: asyncio.AbstractEventLoop
    arrival_time: float


class AsyncEngine:
    """Async front of an :class:`LLMEngine` running in a daemon thread."""

    def __init__(
        self,
        engine: LLMEngine,
        on_finished: Callable[[RequestOutput], None] | None = None,
    ) -> None:
        self.engine = engine
        self.on_finished = on_finished
        self._inbox: queue.Queue[_Submission | tuple[str, str]] = queue.Queue()
        self._streams: dict[str, _Submission] = {}
        self._wake = threading.Event()
        self._stopping = False
        self._ids = itertools.count()
        self._lock = threading.Lock()  # held while the engine steps; swap_weights takes it too
        self._thread = threading.Thread(target=self._run, name="sai-engine", daemon=True)
        self._thread.start()

    @property
    def model_name(self) -> str:
        return self.engine.model_name

    async def generate(
        self, prompt: str | list[int], params: SamplingParams, request_id: str | None = None
    ) -> AsyncIterator[RequestOutput]:
        """Stream a request's outputs as steps produce them; aborting on cancel or close.

        Length checks run here, before queueing, so an over-long prompt is refused at once.
        """
        if self._stopping:
            raise UserError("the server is shutting down", field="model")
        request_id = request_id or f"cmpl-{next(self._ids)}"
        token_ids = (
            self.engine.tokenizer.encode(prompt) if isinstance(prompt, str) else list(prompt)
        )
        self.engine.check_length(len(token_ids), params.max_tokens)
        stream = _OutputStream()
        loop = asyncio.get_running_loop()
        submission = _Submission(request_id, token_ids, params, stream, loop, time.monotonic())
        self._inbox.put(submission)
        self._wake.set()
        finished = False
        items = stream.items
        try:
            while True:
                if not items:
                    stream.waiter = loop.create_future()
                    try:
                        await stream.waiter
                    finally:
                        stream.waiter = None
                    continue
                item = items.popleft()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if item.finished:
                    finished = True
                    return
        finally:
            if not finished:
                self.abort(request_id)

    def abort(self, request_id: str) -> None:
        """Free a request's blocks at the next step (its client went away)."""
        self._inbox.put(("abort", request_id))
        self._wake.set()

    def swap_weights(self, state_dict: dict) -> None:
        """Load new weights between two steps (see :meth:`LLMEngine.swap_weights`)."""
        with self._lock:
            self.engine.swap_weights(state_dict)

    async def score(self, token_ids: list[int], top: int) -> list[ScoredToken]:
        """Logprobs of a prompt's tokens after the first (``scoring.score_tokens``), computed
        between two engine steps in a worker thread: the event loop keeps serving."""

        def run() -> list[ScoredToken]:
            with self._lock:
                return score_tokens(self.engine.model, [(token_ids, 1)], top=top)[0]

        return await asyncio.to_thread(run)

    def add_lora(self, name: str, path: str) -> None:
        """Load a LoRA adapter between two steps (see :meth:`LLMEngine.add_lora`)."""
        with self._lock:
            self.engine.add_lora(name, path)

    def remove_lora(self, name: str) -> None:
        with self._lock:
            self.engine.remove_lora(name)

    def shutdown(self, timeout: float = 10.0) -> None:
        """Stop accepting requests, let the thread finish its step, abort what is left."""
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)

    # -- the engine thread ---------------------------------------------------------------
    def _drain_inbox(self) -> None:
        while True:
            try:
                item = self._inbox.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, tuple):
                self._streams.pop(item[1], None)
                self.engine.abort(item[1])
                continue
            try:
                self.engine.add_request(
                    item.prompt, item.params, item.request_id, arrival_time=item.arrival_time
                )
            except Exception as error:  # refused: tell the waiting coroutine
                item.loop.call_soon_threadsafe(item.stream.put, error)
                continue
            self._streams[item.request_id] = item

    def _run(self) -> None:
        while not self._stopping:
            with self._lock:  # adapters load between steps, never while requests are added
                self._drain_inbox()
            if not self.engine.has_unfinished_requests():
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            try:
                with self._lock:
                    outputs = self.engine.step()
            except Exception as error:  # a bug: log it, fail every waiting request, keep serving
                logger.exception("engine step failed; failing %d requests", len(self._streams))
                self._fail_all(error)
                continue
            self._deliver(outputs)
        self._fail_all(UserError("the server is shutting down", field="model"))

    def _deliver(self, outputs: list[RequestOutput]) -> None:
        """Hand a step's outputs to their streams: one ``call_soon_threadsafe`` per event loop
        per step, not one per request, so the loop wakes (and takes the GIL from this thread)
        once per step whatever the batch size."""
        batches: dict[asyncio.AbstractEventLoop, list[tuple[_OutputStream, RequestOutput]]] = {}
        for output in outputs:
            target = self._streams.get(output.request_id)
            if output.finished:
                self._streams.pop(output.request_id, None)
                if self.on_finished is not None:
                    self.on_finished(output)
            if target is not None:
                batches.setdefault(target.loop, []).append((target.stream, output))
        for loop, items in batches.items():
            loop.call_soon_threadsafe(_put_all, items)

    def _fail_all(self, error: BaseException) -> None:
        for request_id, target in list(self._streams.items()):
            self.engine.abort(request_id)
            target.loop.call_soon_threadsafe(target.stream.put, error)
        self._streams.clear()


def _put_all(items: list[tuple[_OutputStream, RequestOutput]]) -> None:
    """On the event loop: one step's outputs into their requests' streams."""
    for stream, output in items:
        stream.put(output)
