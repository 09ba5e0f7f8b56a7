r"""The course's model server as the platform's pages reach it: where it is, whether it
answers, what it serves, and each person's allowance of requests to it.

Shared by the chat playground (``views/playground.py``) and the course assistant's page
(``views/assistant.py``): the server is set by ``SAI_MODEL_URL`` (its OpenAI base URL,
ending in /v1), it is one server for the whole class, so one allowance per person covers
both pages, and its failures become one-line :class:`~scalable_ai.errors.UserError`\ s the
pages show (no server configured, not reachable, or its own refusal passed on).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import openai

from scalable_ai.course.web.visit import Visit
from scalable_ai.errors import UserError
from scalable_ai.settings import get_settings

MODEL_URL_ENV = "SAI_MODEL_URL"  # the model server's OpenAI base URL, ending in /v1
MODEL_NAME_ENV = "SAI_MODEL_NAME"  # optional: which served model to ask (default: the first)
START_COMMAND = "sai serve smollm2-135m --port 8001"
STATUS_TIMEOUT_S = 2.0  # the page's "is the server up?" probe must not stall the page


class PlaygroundUnavailable(UserError):
    """No model server is configured, or the configured one does not answer."""

    status_code = 503


class TooManyChatRequests(UserError):
    """The person has used up the playground's request allowance for now."""

    status_code = 429


class PlaygroundLimiter:
    """At most ``per_person`` chat requests per person within ``window_s`` seconds.

    A sliding window in process memory, like the sign-in limiter: the platform is one process,
    and the model server behind it is shared by the whole class, so one person's script must
    not starve everyone else's turn. ``monotonic`` is injectable for tests.
    """

    def __init__(
        self,
        per_person: int = 12,
        window_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_person = per_person
        self.window_s = window_s
        self._now = monotonic
        self._requests: dict[int, deque[float]] = {}
        self._lock = threading.Lock()

    def admit(self, person_id: int) -> None:
        """Count one request, or raise :class:`TooManyChatRequests` saying when to retry."""
        with self._lock:
            now = self._now()
            times = self._requests.setdefault(person_id, deque())
            while times and times[0] <= now - self.window_s:
                times.popleft()
            if len(times) >= self.per_person:
                wait = int(times[0] + self.window_s - now) + 1
                raise TooManyChatRequests(
                    f"{self.per_person} messages a minute is the playground's limit; try "
                    f"again in {wait} s",
                    field="message",
                )
            times.append(now)


def limiter_for(visit: Visit) -> PlaygroundLimiter:
    """The app's one limiter (kept in the web state, so tests can install a stricter one)."""
    return visit.state.extra.setdefault("playground_limiter", PlaygroundLimiter())


# The model server ----------------------------------------------------------------------------


def model_server_url() -> str | None:
    """``SAI_MODEL_URL`` read now (not at import), without a trailing slash; None if unset."""
    url = (get_settings().model_url or "").strip().rstrip("/")
    return url or None


def not_configured() -> PlaygroundUnavailable:
    return PlaygroundUnavailable(
        f"no model server is configured. Start the platform with `sai up` (it starts one), or "
        f"run `{START_COMMAND}` and start the platform with "
        f"{MODEL_URL_ENV}=http://127.0.0.1:8001/v1",
        field="model_server",
    )


def unreachable(url: str, error: Exception) -> PlaygroundUnavailable:
    reason = (
        type(error).__name__
        if isinstance(error, openai.APITimeoutError)
        else "connection refused or no answer"
    )
    return PlaygroundUnavailable(
        f"the model server at {url} is not reachable ({reason}). Is `{START_COMMAND}` (or "
        "`sai up`) running? Right after it starts it may still be loading the model.",
        field="model_server",
    )


def api_key() -> str:
    # Our server takes no key; the client insists on one. A key for another server may be set.
    return get_settings().model_api_key or "not-needed"


@dataclass
class ModelServer:
    """What the page says about the model server: where, what it serves, or what is wrong."""

    url: str | None
    models: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def model(self) -> str | None:
        return get_settings().model_name or (self.models[0] if self.models else None)


def probe_model_server() -> ModelServer:
    """Ask ``/v1/models`` (with a short timeout) so the page can say whether chat will work."""
    url = model_server_url()
    if url is None:
        return ModelServer(url=None, problem=not_configured().message)
    try:
        with openai.OpenAI(
            base_url=url, api_key=api_key(), timeout=STATUS_TIMEOUT_S, max_retries=0
        ) as client:
            models = [m.id for m in client.models.list()]
    except openai.APIConnectionError as error:
        return ModelServer(url=url, problem=unreachable(url, error).message)
    except openai.APIStatusError as error:
        return ModelServer(
            url=url,
            problem=f"the model server at {url} answered "
            f"{error.status_code} to /models; is it an OpenAI-compatible server?",
        )
    return ModelServer(
        url=url,
        models=models,
        problem=None if models else f"the model server at {url} serves no model",
    )


def upstream_refusal(error: openai.APIStatusError) -> UserError:
    """The model server's own message (an over-long prompt, a bad value) passed on as it is."""
    body = error.body if isinstance(error.body, dict) else {}
    message = str(body.get("message") or error.message)
    refusal = UserError(f"the model server refused: {message}", field="model_server")
    refusal.status_code = error.status_code if 400 <= error.status_code < 500 else 502
    return refusal
