"""Tool calls (OpenAI's ``tools`` / ``tool_choice``) and JSON output (``response_format``).

How a model calls a tool here: the tools' signatures go into the system message, and the
model writes each call as one JSON object between tags (the convention of Hermes-style
function-calling fine-tunes, which Qwen and SmolLM2's later releases share)::

    <tool_call>
    {"name": "get_weather", "arguments": {"city": "Paris"}}
    </tool_call>

The model is never trusted to get that right: the request's grammar (``grammar.py``) lets
it write calls whose name is one of the tools and whose ``arguments`` match that tool's
``parameters`` schema, and nothing else that looks like a call. Under ``tool_choice: auto``
the model may also write plain text, and the call grammar is *triggered*: the text is free
until it writes ``<tool_call>``, and from that moment the rest must be a valid call (a lazy
lexeme, llguidance's "structural tag" pattern; llama.cpp's lazy grammars do the same with
trigger words). So a call that has started can never name a placeholder such as
``function_name`` or carry arguments outside its schema, and the text before it is the
message's content. ``required`` and a named function leave no text branch; ``none`` adds no
grammar and hides the tools.
The server then turns the tagged calls back into OpenAI's ``tool_calls`` (whole or streamed,
:class:`ToolCallParser`), so a client never sees the tags.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from scalable_ai.errors import UserError
from scalable_ai.infer.grammar import JSON_STYLE, Grammar, json_schema_grammar, lark_grammar

CALL_OPEN, CALL_CLOSE = "<tool_call>", "</tool_call>"


@dataclass
class FunctionTool:
    """One ``{"type": "function", "function": {...}}`` entry of ``tools``."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object"})


def parse_tools(tools: list[dict[str, Any]]) -> list[FunctionTool]:
    """Read and check ``tools``: function entries with distinct names."""
    parsed: list[FunctionTool] = []
    for index, tool in enumerate(tools):
        where = f"tools.{index}"
        if tool.get("type", "function") != "function" or not isinstance(tool.get("function"), dict):
            raise UserError("only tools of type 'function' are supported", field=f"{where}.type")
        function = tool["function"]
        name = function.get("name")
        if not isinstance(name, str) or not name:
            raise UserError("a function needs a name", field=f"{where}.function.name")
        parameters = function.get("parameters") or {"type": "object", "properties": {}}
        if not isinstance(parameters, dict):
            raise UserError("must be a JSON schema object", field=f"{where}.function.parameters")
        if any(t.name == name for t in parsed):
            raise UserError(f"two tools are named {name!r}", field=f"{where}.function.name")
        parsed.append(FunctionTool(name, function.get("description") or "", parameters))
    return parsed


def chosen_tools(
    tools: list[FunctionTool], tool_choice: str | dict[str, Any] | None
) -> tuple[str, list[FunctionTool]]:
    """(mode, tools the model may call): mode is ``none``, ``auto`` or ``required``."""
    if not tools:
        if tool_choice not in (None, "none"):
            raise UserError("tool_choice needs tools", field="tool_choice")
        return "none", []
    if tool_choice is None or tool_choice == "auto":
        return "auto", tools
    if tool_choice in ("none", "required"):
        return str(tool_choice), tools if tool_choice == "required" else []
    if isinstance(tool_choice, dict):
        name = (tool_choice.get("function") or {}).get("name")
        for tool in tools:
            if tool.name == name:
                return "required", [tool]
        raise UserError(f"no tool is named {name!r}", field="tool_choice.function.name")
    raise UserError(
        "must be 'none', 'auto', 'required' or {'type': 'function', 'function': {'name': ...}}",
        field="tool_choice",
    )


def tools_prompt(tools: list[FunctionTool], mode: str) -> str:
    """The system-message text that tells the model its tools and how to call them."""
    signatures = "\n".join(
        json.dumps(
            {"name": t.name, "description": t.description, "parameters": t.parameters},
            ensure_ascii=False,
        )
        for t in tools
    )
    must = (
        "You must call a function now."
        if mode == "required"
        else "Call a function only when it helps."
    )
    return (
        "You can call these functions (JSON signatures, one per line):\n"
        f"<tools>\n{signatures}\n</tools>\n"
        f"{must} To call one, write a JSON object with its name and arguments between "
        f"tags, exactly like this:\n{CALL_OPEN}\n"
        '{"name": "function_name", "arguments": {"argument": "value"}}\n'
        f"{CALL_CLOSE}"
    )


def tool_call_grammar(tools: list[FunctionTool], mode: str, parallel: bool) -> Grammar:
    """The Lark grammar (llguidance's dialect) of what the model may write."""
    calls = [
        {
            "type": "object",
            "properties": {"name": {"const": t.name}, "arguments": t.parameters},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }
        for t in tools
    ]
    schema = {"x-guidance": JSON_STYLE, **(calls[0] if len(calls) == 1 else {"anyOf": calls})}
    more = ' ("\\n" call)*' if parallel else ""
    rules = [
        f'call: "{CALL_OPEN}" call_body',
        f'call_body: "\\n" %json {json.dumps(schema)} "\\n{CALL_CLOSE}"',
    ]
    if mode == "auto":
        # Text that never contains the tag, or any text up to the tag (a lazy lexeme: it
        # ends at the first ``<tool_call>``) and then valid calls only.
        rules = [
            f"start: TEXT | opener call_body{more}",
            f"TEXT: /(.|\\n)+/ & ~/(.|\\n)*{CALL_OPEN}(.|\\n)*/",
            f'opener[lazy]: /(.|\\n)*/ "{CALL_OPEN}"',
            *rules,
        ]
    else:
        rules = [f"start: call{more}", *rules]
    return lark_grammar("\n".join(rules) + "\n", field="tools")


def response_format_grammar(response_format: dict[str, Any] | None) -> Grammar | None:
    """The grammar of ``response_format``: ``json_object`` (any JSON object) or
    ``json_schema`` (documents valid under its ``schema``); ``text`` and None add none."""
    if not response_format:
        return None
    kind = response_format.get("type")
    if kind in (None, "text"):
        return None
    if kind == "json_object":
        return json_schema_grammar({"type": "object"}, field="response_format")
    if kind == "json_schema":
        spec = response_format.get("json_schema")
        if not isinstance(spec, dict) or "schema" not in spec:
            raise UserError(
                "json_schema needs {'name': ..., 'schema': {...}}",
                field="response_format.json_schema",
            )
        return json_schema_grammar(spec["schema"], field="response_format.json_schema.schema")
    raise UserError(
        f"unknown type {kind!r}; use text, json_object or json_schema",
        field="response_format.type",
    )


def render_tool_calls(calls: list[dict[str, Any]]) -> str:
    """An assistant message's earlier ``tool_calls`` as the model writes them."""
    parts = []
    for call in calls:
        function = call.get("function") or {}
        arguments = function.get("arguments") or "{}"
        try:
            parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
        except json.JSONDecodeError:
            raise UserError(
                "arguments must be a JSON string", field="messages.tool_calls.function.arguments"
            ) from None
        body = json.dumps({"name": function.get("name"), "arguments": parsed}, ensure_ascii=False)
        parts.append(f"{CALL_OPEN}\n{body}\n{CALL_CLOSE}")
    return "\n".join(parts)


@dataclass
class ToolCallDelta:
    """One finished call, in the shape of a streamed ``delta.tool_calls`` entry."""

    index: int
    id: str
    name: str
    arguments: str

    def as_openai(self, streamed: bool) -> dict[str, Any]:
        call = {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }
        return {"index": self.index, **call} if streamed else call


class ToolCallParser:
    """Splits one choice's text, as it streams, into content and finished tool calls.

    Text that may still turn into ``<tool_call>`` is held back until it cannot; a call is
    reported when its closing tag arrives (arguments whole, never half a JSON object).
    What does not parse as a call (a truncated output) is given back as content at the end.
    """

    def __init__(self) -> None:
        self.buffer = ""
        self.num_calls = 0
        self.content_sent = 0  # characters of ``buffer`` already given out as content

    def feed(self, text: str, final: bool = False) -> tuple[str, list[ToolCallDelta]]:
        """New content and calls after ``text`` arrives (``final``: nothing more will)."""
        self.buffer += text
        content, calls = [], []
        while True:
            start = self.buffer.find(CALL_OPEN, self.content_sent)
            if start < 0:
                end = len(self.buffer) if final else self._safe_end()
                content.append(self.buffer[self.content_sent : end])
                self.content_sent = end
                break
            content.append(self.buffer[self.content_sent : start])
            self.content_sent = start
            close = self.buffer.find(CALL_CLOSE, start)
            if close < 0:
                if final:
                    content.append(self.buffer[start:])
                    self.content_sent = len(self.buffer)
                break
            call = self._parse(self.buffer[start + len(CALL_OPEN) : close])
            if call is None:  # not a call after all: keep it as text
                content.append(self.buffer[start : close + len(CALL_CLOSE)])
            else:
                calls.append(call)
            self.content_sent = close + len(CALL_CLOSE)
            while self.content_sent < len(self.buffer) and self.buffer[self.content_sent] == "\n":
                self.content_sent += 1
        text_out = "".join(content)
        if self.num_calls and not text_out.strip():
            text_out = ""  # the newlines between calls are not content
        return text_out, calls

    def _safe_end(self) -> int:
        """End of the text that cannot be the start of ``<tool_call>``."""
        buffer = self.buffer
        for keep in range(min(len(CALL_OPEN) - 1, len(buffer) - self.content_sent), 0, -1):
            if CALL_OPEN.startswith(buffer[-keep:]):
                return len(buffer) - keep
        return len(buffer)

    def _parse(self, body: str) -> ToolCallDelta | None:
        try:
            call = json.loads(body)
        except json.JSONDecodeError:
            return None
        if not isinstance(call, dict) or not isinstance(call.get("name"), str):
            return None
        arguments = json.dumps(call.get("arguments", {}), ensure_ascii=False)
        delta = ToolCallDelta(
            self.num_calls, f"call_{uuid.uuid4().hex[:24]}", call["name"], arguments
        )
        self.num_calls += 1
        return delta


def split_tool_calls(text: str) -> tuple[str | None, list[dict[str, Any]]]:
    """A whole output as OpenAI's message: (content or None when empty, tool_calls)."""
    parser = ToolCallParser()
    content, calls = parser.feed(text, final=True)
    content = content.strip() if calls else content
    return (content or None) if calls else content, [c.as_openai(False) for c in calls]
