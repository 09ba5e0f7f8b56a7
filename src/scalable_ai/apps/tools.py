"""Tools an agent can call, all in OpenAI's ``tools`` format: typed Python functions, the
tools of MCP servers (stdio or streamable HTTP), a sandboxed Python interpreter, and
retrieval over a :class:`~scalable_ai.apps.context.Retriever`.

A :class:`Tool` is a name, a description, a JSON schema for its arguments and a function
from validated arguments to text. A Python function becomes one from its signature and
docstring (pydantic builds the schema and validates the call, so a model's bad arguments are
an error message it can read, never an exception in the loop).
"""

from __future__ import annotations

import inspect
import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

from pydantic import ValidationError, create_model

from scalable_ai.errors import UserError


@dataclass
class Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    function: Callable[[dict[str, Any]], str]
    source: str = "python"  # python, mcp:<server>, sandbox, retrieval
    #: The tool's result is the answer (LangChain's ``return_direct``): the agent stops after
    #: it and returns :func:`direct_answer` of its output, with no model step to garble it.
    return_direct: bool = False

    def schema(self) -> dict[str, Any]:
        """The tool as the ``tools`` list of a chat completion request wants it."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }

    def __call__(self, arguments: dict[str, Any]) -> str:
        return self.function(arguments)


def direct_answer(output: str) -> str:
    """What a ``return_direct`` tool's output says to the person: its ``answer`` line when
    the output is a JSON object with one (the course tools' convention), else the output."""
    try:
        parsed = json.loads(output)
    except json.JSONDecodeError:
        return output
    answer = parsed.get("answer") if isinstance(parsed, dict) else None
    return answer if isinstance(answer, str) and answer else output


def function_tool(function: Callable[..., Any], name: str | None = None) -> Tool:
    """A tool from a typed Python function: its parameters' annotations and defaults make
    the JSON schema, the docstring's first paragraph the description; the result is sent
    back to the model as JSON unless it is already a string."""
    signature = inspect.signature(function)
    hints = get_type_hints(function, include_extras=True)  # resolves string annotations
    fields: dict[str, Any] = {}
    for parameter in signature.parameters.values():
        if parameter.name not in hints:
            raise UserError(f"{function.__name__}: parameter {parameter.name} needs a type")
        default = ... if parameter.default is inspect.Parameter.empty else parameter.default
        fields[parameter.name] = (hints[parameter.name], default)
    model = create_model(f"{function.__name__}_arguments", **fields)
    schema = model.model_json_schema()
    schema.pop("title", None)
    for property_schema in schema.get("properties", {}).values():
        property_schema.pop("title", None)
    # Closed: the server's constrained decoding then cannot let a model pad a call with
    # made-up arguments (SmolLM2 wrote {"argument": "value"}, copying the prompt's example).
    schema["additionalProperties"] = False
    description = (inspect.getdoc(function) or function.__name__).split("\n\n")[0]

    def call(arguments: dict[str, Any]) -> str:
        try:
            validated = model.model_validate(arguments)
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
            )
            return f"error: bad arguments ({problems})"
        result = function(**{key: getattr(validated, key) for key in fields})
        return result if isinstance(result, str) else json.dumps(result, default=str)

    return Tool(name or function.__name__, " ".join(description.split()), schema, call)


# --- MCP servers ---------------------------------------------------------------------------


@contextmanager
def mcp_tools(
    *,
    command: list[str] | None = None,
    url: str | None = None,
    headers: dict[str, str] | None = None,
    env: dict[str, str] | None = None,
    label: str = "mcp",
) -> Iterator[list[Tool]]:
    """The tools of one MCP server, open for the ``with`` block: ``command`` starts a stdio
    server (``["sai", "mcp"]``), ``url`` reaches a streamable HTTP one. The session runs on
    an event loop in a helper thread (anyio's blocking portal) so the agent loop stays
    synchronous; each call is one ``tools/call``."""
    from anyio.from_thread import start_blocking_portal
    from mcp import ClientSession, StdioServerParameters
    from mcp.client.stdio import stdio_client

    if (command is None) == (url is None):
        raise UserError("give an MCP server command or URL, not both", field="mcp")
    with ExitStack() as stack:
        portal = stack.enter_context(start_blocking_portal())
        transport: AbstractContextManager[Any]
        if command is not None:
            parameters = StdioServerParameters(
                command=command[0], args=command[1:], env={**os.environ, **(env or {})}
            )
            transport = portal.wrap_async_context_manager(stdio_client(parameters))
        else:
            import httpx
            from mcp.client.streamable_http import streamable_http_client

            http = httpx.AsyncClient(headers=headers or {}, timeout=60)
            stack.callback(portal.call, http.aclose)
            transport = portal.wrap_async_context_manager(
                streamable_http_client(str(url), http_client=http)
            )
        streams = stack.enter_context(transport)
        session = stack.enter_context(
            portal.wrap_async_context_manager(ClientSession(streams[0], streams[1]))
        )
        portal.call(session.initialize)
        listed = portal.call(session.list_tools).tools

        def caller(tool_name: str) -> Callable[[dict[str, Any]], str]:
            def call(arguments: dict[str, Any]) -> str:
                result = portal.call(session.call_tool, tool_name, arguments)
                text = "\n".join(getattr(c, "text", "") for c in result.content)
                return f"error: {text}" if result.isError else text

            return call

        yield [
            Tool(t.name, t.description or t.name, closed(t.inputSchema), caller(t.name), label)
            for t in listed
        ]


def closed(schema: dict[str, Any]) -> dict[str, Any]:
    """An MCP tool's input schema, closed to arguments it does not list when the server left
    that unsaid (FastMCP's schemas do): under the server's grammar a model then cannot pad a
    call with made-up arguments, as ``function_tool``'s schemas ensure for Python tools. A
    server that says ``additionalProperties`` (true or a schema) is taken at its word."""
    schema = dict(schema)
    if schema.get("type") == "object" and "additionalProperties" not in schema:
        schema["additionalProperties"] = False
    return schema


# --- sandboxed Python ------------------------------------------------------------------------


def python_tool(time_s: int = 10, memory_mb: int = 512, mode: str = "auto") -> Tool:
    """``run_python(code)``: runs code in a fresh interpreter inside the kits' bubblewrap
    sandbox (no network, read-only system, private /tmp, its own PID namespace, time, memory,
    process and output limits) and returns what it printed."""
    from scalable_ai.kits.kit import GraderLimits
    from scalable_ai.kits.sandbox import Bind, run_sandboxed

    limits = GraderLimits(
        time_s=time_s, test_timeout_s=time_s, memory_mb=memory_mb, processes=16,
        output_kb=64, scratch_mb=16,
    )  # fmt: skip

    def run_python(code: str) -> str:
        """Run Python code in an isolated sandbox (no network, limited time and memory) and
        return its printed output; print what you want to see."""
        with tempfile.TemporaryDirectory(prefix="sai-agent-") as folder:
            Path(folder, "main.py").write_text(code)
            result = run_sandboxed(
                [sys.executable, "-I", "-S", "main.py"] if mode == "none" else
                [sys.executable, "-I", "-S", "/tmp/agent/main.py"],
                binds=[Bind(Path(folder), "/tmp/agent", writable=True)],
                cwd=folder if mode == "none" else "/tmp/agent",
                limits=limits,
                env={"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PYTHONHASHSEED": "0"},
                mode=mode,
            )  # fmt: skip
        status = "ok" if result.returncode == 0 else f"exit {result.returncode}"
        if result.stopped:
            status = f"stopped: {result.stopped}"
        return f"[{status}]\n{result.output.strip()}"[:4000]

    tool = function_tool(run_python)
    tool.source = "sandbox"
    return tool


# --- retrieval -------------------------------------------------------------------------------


def retrieval_tool(retriever: Any, budget_tokens: int = 500, k: int = 4) -> Tool:
    """``search_documents(query)``: the cited context for ``query`` (``[n] (source § section)``
    blocks, most relevant first, within ``budget_tokens``)."""
    from scalable_ai.apps.context import build_context
    from scalable_ai.apps.ingest import default_counter

    def search_documents(query: str) -> str:
        """Search the course documents (syllabus, docs) and return the passages that answer
        the query, each with its source to cite."""
        context = build_context(retriever.search(query, k), budget_tokens, default_counter())
        return context.text or "no passage found"

    tool = function_tool(search_documents)
    tool.source = "retrieval"
    return tool
