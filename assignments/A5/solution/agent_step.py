"""Part 4 (lecture L22: agentic applications): the tool-calling loop, with budgets.

The model is reached only through the OpenAI chat API (``client.chat.completions.create``):
send the conversation and the tools' schemas; when the reply carries ``tool_calls``, run
each tool, append the assistant's message and one ``tool`` message per call, and go again;
stop at a plain answer, after ``config.max_steps`` model calls, or when the tokens used
(prompt + completion, summed over the calls) reach ``config.token_budget``. On the last
allowed step the tools are withheld (``tool_choice: "none"``) so the model must answer. A
tool's failure (unknown name, arguments that are not JSON, an exception) is an ``error: ...``
text the model reads, never a crash of the loop. The lab stack's
``scalable_ai.apps.agent.Agent.run`` is the reference (without its tracing and rails).
"""

from __future__ import annotations

import json
from typing import Any

from scalable_ai.apps.agent import AgentConfig, AgentResult
from scalable_ai.apps.tools import Tool


def call_tool(
    call: dict[str, Any], tools: dict[str, Tool]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Run one OpenAI-shaped call ``{"id", "type", "function": {"name", "arguments"}}``
    (arguments a JSON text): (the ``tool`` message ``{"role": "tool", "tool_call_id",
    "content"}``, the parsed arguments, ``{}`` when they are not JSON)."""
    name = call["function"]["name"]
    arguments: dict[str, Any] = {}
    try:
        arguments = json.loads(call["function"]["arguments"] or "{}")
        tool = tools.get(name)
        output = tool(arguments) if tool else f"error: no tool named {name!r}"
    except json.JSONDecodeError as error:
        output = f"error: arguments are not JSON ({error})"
    except Exception as error:  # the model reads it and may try again
        output = f"error: {error}"
    return {"role": "tool", "tool_call_id": call["id"], "content": output}, arguments


def model_step(client: Any, request: dict[str, Any]) -> tuple[dict[str, Any], int, int]:
    """One model call: (the assistant message as a dict, with ``tool_calls`` only when the
    model called tools, prompt tokens, completion tokens)."""
    response = client.chat.completions.create(**request)
    choice = response.choices[0]
    message: dict[str, Any] = {"role": "assistant", "content": choice.message.content}
    if choice.message.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function",
             "function": {"name": c.function.name, "arguments": c.function.arguments}}
            for c in choice.message.tool_calls
        ]  # fmt: skip
    usage = response.usage
    return message, (usage.prompt_tokens if usage else 0), (usage.completion_tokens if usage else 0)


def run_agent(client: Any, tools: list[Tool], task: str, config: AgentConfig) -> AgentResult:
    """The loop. Messages start ``[{"role": "system", "content": config.system}, {"role":
    "user", "content": task}]``; each request is ``{"model", "messages", "max_tokens",
    "temperature"}`` from ``config``, plus ``"tools"`` (each tool's ``schema()``) and
    ``"tool_choice"`` when there are tools: ``config.first_tool_choice`` on step 0,
    ``"auto"`` after, ``"none"`` on the last allowed step. ``stopped_by`` is ``"answer"``,
    ``"max_steps"`` or ``"token_budget"`` (checked after a step's tools ran); ``steps``
    counts model calls; ``tool_calls`` lists ``{"name", "arguments"}`` in call order."""
    by_name = {t.name: t for t in tools}
    result = AgentResult(answer="", stopped_by="max_steps", steps=0)
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": config.system},
        {"role": "user", "content": task},
    ]
    for step in range(config.max_steps):
        result.steps = step + 1
        request: dict[str, Any] = {
            "model": config.model,
            "messages": messages,
            "max_tokens": config.max_tokens,
            "temperature": config.temperature,
        }
        if by_name:
            request["tools"] = [t.schema() for t in by_name.values()]
            last = step == config.max_steps - 1
            request["tool_choice"] = (
                "none" if last else config.first_tool_choice if step == 0 else "auto"
            )
        message, prompt, completion = model_step(client, request)
        result.prompt_tokens += prompt
        result.completion_tokens += completion
        calls = message.get("tool_calls") or []
        if not calls:
            result.answer, result.stopped_by = message.get("content") or "", "answer"
            break
        messages.append(message)
        for call in calls:
            tool_message, arguments = call_tool(call, by_name)
            result.tool_calls.append({"name": call["function"]["name"], "arguments": arguments})
            messages.append(tool_message)
        if result.tokens >= config.token_budget:
            result.stopped_by = "token_budget"
            result.answer = "I ran out of my token budget before finishing."
            break
    return result
