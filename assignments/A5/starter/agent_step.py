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
    # TODO(A5.6): json.loads the arguments; an unknown tool, bad JSON or an exception becomes "error: ...".
    raise NotImplementedError("TODO(A5.6): call_tool")


def model_step(client: Any, request: dict[str, Any]) -> tuple[dict[str, Any], int, int]:
    """One model call: (the assistant message as a dict, with ``tool_calls`` only when the
    model called tools, prompt tokens, completion tokens)."""
    # TODO(A5.7): read choices[0].message and usage from the response.
    raise NotImplementedError("TODO(A5.7): model_step")


def run_agent(client: Any, tools: list[Tool], task: str, config: AgentConfig) -> AgentResult:
    """The loop. Messages start ``[{"role": "system", "content": config.system}, {"role":
    "user", "content": task}]``; each request is ``{"model", "messages", "max_tokens",
    "temperature"}`` from ``config``, plus ``"tools"`` (each tool's ``schema()``) and
    ``"tool_choice"`` when there are tools: ``config.first_tool_choice`` on step 0,
    ``"auto"`` after, ``"none"`` on the last allowed step. ``stopped_by`` is ``"answer"``,
    ``"max_steps"`` or ``"token_budget"`` (checked after a step's tools ran); ``steps``
    counts model calls; ``tool_calls`` lists ``{"name", "arguments"}`` in call order."""
    # TODO(A5.8): the loop with its three stops: answer, max_steps, token_budget.
    raise NotImplementedError("TODO(A5.8): run_agent")
