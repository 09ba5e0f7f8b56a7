"""The chat playground: a signed-in page that streams answers from the course's model server.

Issue 7 asks for "the platform's chat playground: a signed-in page of the course platform that
streams from this server through its OpenAI API (the platform finds the server from a setting;
``sai up`` starts both)". Assignment A4 measures serving by what a user feels, time to first
token and tokens per second, so every answer on the page shows both.

How a message travels: the browser talks only to the platform (same origin, the session cookie,
the form's CSRF token). ``POST /playground/chat`` checks who is asking, the input's size and the
person's request rate, then forwards the conversation to the model server named by
``SAI_MODEL_URL`` (e.g. ``http://127.0.0.1:8001/v1``) with the official ``openai`` client
(``AsyncOpenAI``), and re-emits its stream to the browser as server-sent events:
``data: {"type": "token", "text": ...}`` per piece, then one ``done`` event with the timings (or
one ``error`` event). The model server is never exposed to the browser, so it can stay on
loopback. Without JavaScript the same form posts normally and the answer comes back as a page.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

import anyio
import httpx
import openai
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response, StreamingResponse

from scalable_ai.course.web.model_server import (
    MODEL_URL_ENV,
    START_COMMAND,
    ModelServer,
    PlaygroundUnavailable,
    api_key,
    limiter_for,
    model_server_url,
    not_configured,
    probe_model_server,
    unreachable,
    upstream_refusal,
)
from scalable_ai.course.web.visit import Visit, checked_form, open_visit
from scalable_ai.errors import UserError
from scalable_ai.settings import get_settings

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]

# Input limits. SmolLM2-135M's server holds 2048 tokens of prompt and answer; English runs at
# about 4 characters a token, so a 4000-character message leaves room for an answer, and the
# whole conversation (system prompt and earlier turns included) is capped near that context.
MESSAGE_CHARS = 4000
SYSTEM_CHARS = 2000
CONVERSATION_CHARS = 8000
CONVERSATION_TURNS = 40
MAX_TOKENS = 1024
DEFAULT_MAX_TOKENS = 256
DEFAULT_TEMPERATURE = 0.7


@dataclass(frozen=True)
class ChatRequest:
    """One validated turn: the whole conversation to send and the sampling settings."""

    messages: list[dict[str, str]]
    temperature: float
    max_tokens: int

    @property
    def message(self) -> str:
        return self.messages[-1]["content"]


def _number(
    form: dict[str, Any], name: str, kind: type, default: float, low: float, high: float
) -> Any:
    text = str(form.get(name) or "").strip()
    if not text:
        return kind(default)
    try:
        value = kind(text)
    except ValueError:
        raise UserError(f"{text!r} is not a number", field=name) from None
    if not low <= value <= high:
        raise UserError(f"must be between {kind(low)} and {kind(high)}", field=name)
    return value


def _earlier_turns(text: str) -> list[dict[str, str]]:
    """The conversation so far as the page keeps it: a JSON list of user/assistant turns."""
    if not text.strip():
        return []
    try:
        turns = json.loads(text)
    except json.JSONDecodeError:
        raise UserError(
            "the conversation so far is not readable; start a new one", field="history"
        ) from None
    if not isinstance(turns, list) or len(turns) > CONVERSATION_TURNS:
        raise UserError(
            f"a conversation holds at most {CONVERSATION_TURNS} turns; start a new one",
            field="history",
        )
    checked = []
    for turn in turns:
        if not (
            isinstance(turn, dict)
            and turn.get("role") in ("user", "assistant")
            and isinstance(turn.get("content"), str)
        ):
            raise UserError(
                "each earlier turn needs a role (user or assistant) and content", field="history"
            )
        checked.append({"role": turn["role"], "content": turn["content"]})
    return checked


def read_chat_request(form: dict[str, Any]) -> ChatRequest:
    """Validate the form; an over-long input is refused with its length and the limit."""
    message = str(form.get("message") or "").strip()
    system = str(form.get("system") or "").strip()
    if not message:
        raise UserError("write a message first", field="message")
    for name, text, limit in (
        ("message", message, MESSAGE_CHARS),
        ("system", system, SYSTEM_CHARS),
    ):
        if len(text) > limit:
            raise UserError(
                f"is {len(text)} characters long; the playground takes at most {limit}", field=name
            )
    earlier = _earlier_turns(str(form.get("history") or ""))
    total = len(message) + len(system) + sum(len(t["content"]) for t in earlier)
    if total > CONVERSATION_CHARS:
        raise UserError(
            f"the conversation is {total} characters long, over the model's "
            f"budget of {CONVERSATION_CHARS}; start a new conversation",
            field="history",
        )
    messages = ([{"role": "system", "content": system}] if system else []) + earlier
    return ChatRequest(
        messages=[*messages, {"role": "user", "content": message}],
        temperature=_number(form, "temperature", float, DEFAULT_TEMPERATURE, 0.0, 2.0),
        max_tokens=_number(form, "max_tokens", int, DEFAULT_MAX_TOKENS, 1, MAX_TOKENS),
    )


@dataclass
class OpenStream:
    """A streamed completion that has started: its chunks, its client, when it was sent."""

    chunks: Any
    client: openai.AsyncOpenAI
    started: float
    model: str


async def open_chat_stream(url: str, chat: ChatRequest) -> OpenStream:
    """Send the conversation and wait for the response to begin. Failures before the first
    byte (no server, a refused request) become a :class:`UserError` the page can show."""
    client = openai.AsyncOpenAI(
        base_url=url, api_key=api_key(), max_retries=0, timeout=openai.Timeout(120.0, connect=3.0)
    )
    started = time.perf_counter()
    try:
        model = get_settings().model_name
        if not model:
            served = [m.id async for m in client.models.list()]
            if not served:
                raise PlaygroundUnavailable(
                    f"the model server at {url} serves no model", field="model_server"
                )
            model = served[0]
        stream = await client.chat.completions.create(  # type: ignore[call-overload]
            model=model,
            messages=chat.messages,
            temperature=chat.temperature,
            max_tokens=chat.max_tokens,
            stream=True,
            stream_options={"include_usage": True},
        )
    except openai.APIConnectionError as error:
        await client.close()
        raise unreachable(url, error) from error
    except openai.APIStatusError as error:
        await client.close()
        raise upstream_refusal(error) from error
    except BaseException:
        await client.close()
        raise
    return OpenStream(chunks=stream, client=client, started=started, model=model)


async def relay(stream: OpenStream) -> AsyncIterator[dict[str, Any]]:
    """The model server's chunks as playground events, then ``done`` with the timings.

    Time to first token runs from sending the request to the first text piece; tokens/s is
    the decode rate after it, (tokens - 1) / (last piece - first piece), the inverse of the
    time per output token that vLLM and our ``/metrics`` report. If the browser goes away the
    stream is closed, which the model server sees as a disconnect and frees its KV blocks.
    """
    first = last = None
    pieces, usage, finish = 0, None, None
    try:
        async for chunk in stream.chunks:
            usage = chunk.usage or usage
            for choice in chunk.choices:
                finish = choice.finish_reason or finish
                if choice.delta.content:
                    last = time.perf_counter()
                    first = first or last
                    pieces += 1
                    yield {"type": "token", "text": choice.delta.content}
    except (openai.APIError, httpx.HTTPError) as error:
        reason = error.message if isinstance(error, openai.APIError) else type(error).__name__
        yield {"type": "error", "message": f"the model server stopped answering: {reason}"}
        return
    finally:
        with anyio.CancelScope(shield=True):  # close even when the browser has gone
            await stream.chunks.close()
            await stream.client.close()
    tokens = usage.completion_tokens if usage else pieces
    decode_s = (last - first) if first is not None and last is not None else 0.0
    yield {
        "type": "done",
        "finish_reason": finish,
        "completion_tokens": tokens,
        "prompt_tokens": usage.prompt_tokens if usage else None,
        "ttft_s": round(first - stream.started, 4) if first is not None else None,
        "tokens_per_s": round((tokens - 1) / decode_s, 1) if tokens > 1 and decode_s > 0 else None,
    }


async def server_sent_events(events: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    async for event in events:
        yield f"data: {json.dumps(event, ensure_ascii=False)}\n\n"


# Pages ---------------------------------------------------------------------------------------


def _page(visit: Visit, server: ModelServer, *, status_code: int = 200, **context: Any) -> Response:
    values: dict[str, Any] = {
        "system": "",
        "temperature": DEFAULT_TEMPERATURE,
        "max_tokens": DEFAULT_MAX_TOKENS,
        "exchange": None,
        "error": None,
        **context,
    }
    return visit.page(
        "playground.html",
        title="Chat playground",
        active="/playground",
        status_code=status_code,
        server=server,
        model_url_env=MODEL_URL_ENV,
        start_command=START_COMMAND,
        message_chars=MESSAGE_CHARS,
        system_chars=SYSTEM_CHARS,
        max_tokens_limit=MAX_TOKENS,
        **values,
    )


@router.get("/playground")
def playground(visit: VisitDep) -> Response:
    visit.person()
    return _page(visit, probe_model_server())


@router.post("/playground/chat", response_model=None)
async def chat(request: Request, visit: VisitDep, form: FormDep) -> Response:
    """Stream one answer to the browser (``Accept: text/event-stream``), or, for a browser
    without JavaScript, wait for the whole answer and show it on the page."""
    me = await run_in_threadpool(visit.person)
    streaming = "text/event-stream" in request.headers.get("accept", "")
    kept: dict[str, Any] = {
        "system": str(form.get("system") or ""),
        "temperature": form.get("temperature") or DEFAULT_TEMPERATURE,
        "max_tokens": form.get("max_tokens") or DEFAULT_MAX_TOKENS,
    }
    try:
        chat_request = read_chat_request(form)
        url = model_server_url()
        if url is None:
            raise not_configured()
        limiter_for(visit).admit(me.id)
        stream = await open_chat_stream(url, chat_request)
    except UserError as error:
        if streaming:
            return visit.finish(
                JSONResponse(
                    {"error": {"message": error.message, "field": error.field}},
                    status_code=error.status_code,
                )
            )
        server = await run_in_threadpool(probe_model_server)
        return _page(visit, server, status_code=error.status_code, error=str(error), **kept)
    events = relay(stream)
    if streaming:
        return visit.finish(
            StreamingResponse(
                server_sent_events(events),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        )
    reply, outcome = "", {}
    async for event in events:
        if event["type"] == "token":
            reply += event["text"]
        else:
            outcome = event
    exchange = {"message": chat_request.message, "reply": reply, "outcome": outcome}
    return _page(visit, ModelServer(url=url, models=[stream.model]), exchange=exchange, **kept)
