"""Given code (no TODO here): the lab stack pieces A5 builds on, at CPU size, without a model
server.

``WordCounter`` counts whitespace-separated words as tokens (the lab's ``TokenCounter``
shape: ``count`` and ``spans``), so chunk sizes and budgets are easy to check by hand.
``ScriptedClient`` plays an OpenAI-compatible chat endpoint from a script of replies (plain
answers or ``tool_calls``) and records every request it was sent: the agent loop is tested
exactly as it runs against ``sai serve``, only the model is replaced. ``hit`` makes a
retrieval hit from a source, a section and a text.
"""

from __future__ import annotations

import json
import re
from typing import Any

from scalable_ai.apps.context import Hit
from scalable_ai.apps.index import StoredChunk

WORD = re.compile(r"\S+")


class WordCounter:
    """Tokens are runs of non-space characters (the lab's TokenCounter interface)."""

    def count(self, text: str) -> int:
        return len(WORD.findall(text))

    def spans(self, text: str) -> list[tuple[int, int]]:
        return [m.span() for m in WORD.finditer(text)]


class _Namespace:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


def reply(
    content: str | None = None,
    calls: list[tuple[str, dict[str, Any] | str]] | None = None,
    prompt_tokens: int = 100,
    completion_tokens: int = 20,
) -> dict[str, Any]:
    """One scripted model reply: a plain answer, or tool calls as (name, arguments); arguments
    given as a str are sent as they are (a model's broken JSON)."""
    return {
        "content": content,
        "calls": [(n, a if isinstance(a, str) else json.dumps(a)) for n, a in calls or []],
        "usage": (prompt_tokens, completion_tokens),
    }


class ScriptedClient:
    """``client.chat.completions.create(**request)`` answers the script's replies in order
    (in the OpenAI SDK's response shape) and keeps each request in ``requests``."""

    def __init__(self, script: list[dict[str, Any]]) -> None:
        self.script = list(script)
        self.requests: list[dict[str, Any]] = []
        self.chat = _Namespace(completions=_Namespace(create=self._create))

    def _create(self, **request: Any) -> Any:
        self.requests.append(json.loads(json.dumps(request)))  # as sent then
        if not self.script:
            raise RuntimeError("the agent called the model more often than the script allows")
        step = self.script.pop(0)
        n = len(self.requests)
        calls = [
            _Namespace(id=f"call_{n}_{i}", type="function",
                       function=_Namespace(name=name, arguments=arguments))
            for i, (name, arguments) in enumerate(step["calls"])
        ]  # fmt: skip
        prompt, completion = step["usage"]
        return _Namespace(
            choices=[_Namespace(
                message=_Namespace(content=step["content"], tool_calls=calls or None),
                finish_reason="tool_calls" if calls else "stop",
            )],
            usage=_Namespace(prompt_tokens=prompt, completion_tokens=completion),
        )  # fmt: skip


def hit(ordinal: int, text: str, source: str = "syllabus.txt", section: str = "") -> Hit:
    """A retrieval hit as the lab's Retriever returns it."""
    chunk = StoredChunk(ordinal, source, source, section, ordinal, text, len(text.split()))
    return Hit(chunk, 1.0 / (ordinal + 1))
