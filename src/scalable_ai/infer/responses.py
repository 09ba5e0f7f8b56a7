"""OpenAI response bodies: completions and chat, whole and as streamed chunks.

Shapes follow OpenAI's API reference: ``text_completion`` with ``choices[i].text`` and the
legacy logprobs object (``tokens``, ``token_logprobs``, ``top_logprobs``, ``text_offset``);
``chat.completion`` with ``choices[i].message`` and logprobs as ``content: [{token, logprob,
bytes, top_logprobs}]``; the streamed variants put the new text in ``text`` or ``delta``.
"""

from __future__ import annotations

import json
from json.encoder import encode_basestring
from typing import TYPE_CHECKING, Any

from scalable_ai.infer.engine import ChoiceDelta, TokenLogprob
from scalable_ai.infer.tools import split_tool_calls

if TYPE_CHECKING:
    from scalable_ai.infer.async_engine import AsyncEngine
    from scalable_ai.infer.server import _Job


def _token_text(engine: AsyncEngine, token_id: int) -> str:
    return engine.engine.tokenizer.decode([token_id])


def completion_logprobs(engine: AsyncEngine, entries: list[TokenLogprob], offset: int) -> dict:
    """The legacy completions logprobs object for ``entries``, text offsets from ``offset``."""
    tokens, token_logprobs, top, offsets = [], [], [], []
    for entry in entries:
        text = _token_text(engine, entry.token_id)
        tokens.append(text)
        token_logprobs.append(entry.logprob)
        top.append({_token_text(engine, t): lp for t, lp in entry.top} or None)
        offsets.append(offset)
        offset += len(text)
    return {
        "tokens": tokens,
        "token_logprobs": token_logprobs,
        "top_logprobs": top,
        "text_offset": offsets,
    }


def chat_logprobs(engine: AsyncEngine, entries: list[TokenLogprob]) -> dict:
    """The chat logprobs object: one entry per token with its top alternatives."""

    def item(token_id: int, logprob: float | None) -> dict[str, Any]:
        text = _token_text(engine, token_id)
        return {"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8"))}

    return {
        "content": [
            {**item(e.token_id, e.logprob), "top_logprobs": [item(t, lp) for t, lp in e.top]}
            for e in entries
        ]
    }


def chunk_body(
    job: _Job,
    engine: AsyncEngine,
    index: int,
    delta: ChoiceDelta | None,
    role: bool = False,
    echo: str = "",
) -> dict[str, Any]:
    """One streamed chunk for choice ``index`` (a role announcement, echo, or a delta)."""
    text = delta.text if delta is not None else echo
    finish = delta.finish_reason if delta is not None else None
    wants_logprobs = delta is not None and delta.logprobs
    if job.kind == "chat":
        content: dict[str, Any] = {"role": "assistant", "content": ""} if role else {}
        if delta is not None:
            content = {"content": text}
        choice = {
            "index": index,
            "delta": content,
            "finish_reason": finish,
            "logprobs": (
                chat_logprobs(engine, delta.logprobs)
                if delta is not None and wants_logprobs
                else None
            ),
        }
        obj = "chat.completion.chunk"
    else:
        offset = job.text_lengths[index] - len(text)
        logprobs = (
            completion_logprobs(engine, delta.logprobs, offset)
            if wants_logprobs and delta is not None
            else None
        )
        choice = {"index": index, "text": text, "finish_reason": finish, "logprobs": logprobs}
        obj = "text_completion"
    return {
        "id": job.id,
        "object": obj,
        "created": job.created,
        "model": job.model,
        "choices": [choice],
    }


def tool_call_events(job: _Job, engine: AsyncEngine, index: int, delta: ChoiceDelta) -> str:
    """A chat choice with tools: its text through the choice's :class:`ToolCallParser`, as
    content chunks and one ``delta.tool_calls`` chunk per finished call; the last chunk's
    finish reason is ``tool_calls`` when the choice called any."""
    assert job.tool_parsers is not None
    parser = job.tool_parsers[index]
    finished = delta.finish_reason is not None
    content, calls = parser.feed(delta.text, final=finished)
    base = chunk_body(job, engine, index, delta)
    events = []
    choice = base["choices"][0]
    if content or delta.logprobs:
        choice.update(delta={"content": content}, finish_reason=None)
        events.append(json.loads(json.dumps(base)))
    for call in calls:
        choice.update(
            delta={"tool_calls": [call.as_openai(True)]}, finish_reason=None, logprobs=None
        )
        events.append(json.loads(json.dumps(base)))
    if finished:
        choice.update(
            delta={}, finish_reason=_finish(delta.finish_reason, parser.num_calls), logprobs=None
        )
        events.append(base)
    return "".join(f"data: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events)


def _finish(reason: str | None, num_calls: int) -> str | None:
    return "tool_calls" if num_calls and reason == "stop" else reason


def delta_event(job: _Job, engine: AsyncEngine, index: int, delta: ChoiceDelta) -> str:
    """The server-sent event for one delta: ``data: <chunk_body as JSON>``, blank line.

    Byte for byte what ``json.dumps(chunk_body(...), ensure_ascii=False)`` writes, but built
    from a per-request prefix and the escaped text alone when there are no logprobs: this
    runs once per token per stream, on the event loop that every stream shares.
    """
    if job.tool_parsers is not None:
        return tool_call_events(job, engine, index, delta)
    if delta.logprobs:
        body = chunk_body(job, engine, index, delta)
        return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"
    prefix = job.event_prefix
    if prefix is None:
        obj = "chat.completion.chunk" if job.kind == "chat" else "text_completion"
        prefix = job.event_prefix = (
            f'data: {{"id": {encode_basestring(job.id)}, "object": "{obj}", '
            f'"created": {job.created}, "model": {encode_basestring(job.model)}, "choices": '
        )
    text = encode_basestring(delta.text)
    finish = "null" if delta.finish_reason is None else encode_basestring(delta.finish_reason)
    if job.kind == "chat":
        choice = f'{{"index": {index}, "delta": {{"content": {text}}}, "finish_reason": {finish}'
    else:
        choice = f'{{"index": {index}, "text": {text}, "finish_reason": {finish}'
    return f'{prefix}[{choice}, "logprobs": null}}]}}\n\n'


def final_body(job: _Job, engine: AsyncEngine, echo: list[str]) -> dict[str, Any]:
    """The whole (non-streamed) response with every choice and the usage counts."""
    choices = []
    for index, text in enumerate(job.texts):
        entries = job.logprobs[index]
        if job.kind == "chat":
            message: dict[str, Any] = {"role": "assistant", "content": text}
            finish = job.finish[index]
            if job.tool_parsers is not None:
                content, calls = split_tool_calls(text)
                message = {"role": "assistant", "content": content}
                if calls:
                    message["tool_calls"] = calls
                finish = _finish(finish, len(calls))
            choices.append(
                {
                    "index": index,
                    "message": message,
                    "logprobs": chat_logprobs(engine, entries) if entries else None,
                    "finish_reason": finish,
                }
            )
        else:
            prefix = echo[index // job.n]
            offset = len(prefix)
            if job.prompt_logprobs is not None:  # echo: the prompt's tokens come first
                entries, offset = job.prompt_logprobs[index // job.n] + entries, 0
            choices.append(
                {
                    "index": index,
                    "text": prefix + text,
                    "logprobs": completion_logprobs(engine, entries, offset) if entries else None,
                    "finish_reason": job.finish[index],
                }
            )
    return {
        "id": job.id,
        "object": "chat.completion" if job.kind == "chat" else "text_completion",
        "created": job.created,
        "model": job.model,
        "choices": choices,
        "usage": job.usage(),
    }
