"""A tool-calling agent loop over any OpenAI-compatible chat endpoint.

The loop of lecture 22 ("Agentic Applications"), in the ReAct shape (Yao et al., ICLR 2023)
but with the API's structured ``tool_calls`` instead of parsed text: send the conversation
and the tools' schemas; if the model calls tools, run each, append the results as ``tool``
messages and go again; stop at a plain answer, at ``max_steps``, or when the token budget is
spent. On the last allowed step the tools are withheld (``tool_choice: "none"``) so the model
must answer. A tool marked ``return_direct`` ends the loop with its own answer line (the
figure comes from the tool, never from the model's retelling; LangChain's ``return_direct``);
the output rails do not run on it (it is the tool's reading of data the caller may see, not
model text). Small models rarely call a tool on their own, so ``first_tool_choice`` may
require one call on the first step (``"required"``): the server's constrained decoding keeps
that call valid under the tool's schema.

Every step is traced: each model call and tool call becomes one line of ``transcript.jsonl``
(request, response, latency, tokens) and one row of the run's metrics when a run is given.
A transcript is replayable: :class:`ReplayClient` answers the recorded model responses in
order and checks the agent sends the recorded requests, so a run can be re-executed and
debugged without the model (tools run again; a differing result is reported).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalable_ai.apps.tools import Tool, direct_answer
from scalable_ai.errors import UserError

SYSTEM = (
    "You are a helpful assistant for the Scalable AI course. Use the tools when they help, "
    "then answer briefly. Cite sources as [n] when a tool gives numbered sources."
)


@dataclass
class AgentConfig:
    model: str = "smollm2-135m"
    max_steps: int = 4
    token_budget: int = 6000  # prompt + completion tokens over all steps
    max_tokens: int = 200  # per model call
    temperature: float = 0.0
    #: auto, required, none, or {"type": "function", "function": {"name": ...}}
    first_tool_choice: str | dict[str, Any] = "auto"
    system: str = SYSTEM
    parallel_tool_calls: bool | None = None  # None: the server's default (OpenAI's: true)


@dataclass
class AgentResult:
    answer: str
    stopped_by: (
        str  # answer, tool (a return_direct tool answered), max_steps, token_budget, guardrail
    )
    steps: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class Agent:
    """``Agent(client, tools, config).run(task)``; ``client`` is an ``openai.OpenAI`` (or a
    :class:`ReplayClient`), ``run`` an open run to trace into, ``guardrails`` an optional
    :class:`~scalable_ai.apps.guardrails.Guardrails` checked on the task and the answer."""

    def __init__(
        self,
        client: Any,
        tools: list[Tool] | None = None,
        config: AgentConfig | None = None,
        *,
        run: Any = None,
        guardrails: Any = None,
        name: str = "agent",
    ) -> None:
        self.client = client
        self.tools = {t.name: t for t in tools or []}
        self.config = config or AgentConfig()
        self.run_record = run
        self.guardrails = guardrails
        self.name = name
        self._row = 0

    def _trace(self, result: AgentResult, event: dict[str, Any]) -> None:
        event = {"agent": self.name, **event}
        result.transcript.append(event)
        if self.run_record is not None:
            self._row += 1
            scalars = {
                ("agent_step" if k == "step" else k): v
                for k, v in event.items()
                if isinstance(v, int | float) and not isinstance(v, bool)
            }
            self.run_record.log(self._row, kind=event["kind"], agent=self.name, **scalars)

    def _tool_choice(self, step: int) -> str | dict[str, Any]:
        if not self.tools or step == self.config.max_steps - 1:
            return "none"
        return self.config.first_tool_choice if step == 0 else "auto"

    def run(self, task: str, history: list[dict[str, Any]] | None = None) -> AgentResult:
        started = time.perf_counter()
        result = AgentResult(answer="", stopped_by="max_steps", steps=0)
        if self.guardrails is not None:
            verdict = self.guardrails.check_input(task)
            self._trace(result, {"kind": "input_rail", "blocked": verdict.blocked,
                                 "rail": verdict.rail, "reason": verdict.reason})  # fmt: skip
            if verdict.blocked:
                result.answer, result.stopped_by = verdict.message, "guardrail"
                result.seconds = time.perf_counter() - started
                return result
            task = verdict.text
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": self.config.system},
            *(history or []),
            {"role": "user", "content": task},
        ]
        for step in range(self.config.max_steps):
            result.steps = step + 1
            message = self._model_step(step, messages, result)
            calls = message.get("tool_calls") or []
            if not calls:
                result.answer, result.stopped_by = message.get("content") or "", "answer"
                break
            messages.append(message)
            replies = [self._tool_step(step, call, result) for call in calls]
            messages += replies
            direct = [self.tools.get(c["function"]["name"]) for c in calls]
            if all(t is not None and t.return_direct for t in direct) and not any(
                r["content"].startswith("error:") for r in replies
            ):  # the tools' own answer, not the model's retelling of it
                result.answer = "\n".join(direct_answer(r["content"]) for r in replies)
                result.stopped_by = "tool"
                break
            if result.tokens >= self.config.token_budget:
                result.stopped_by = "token_budget"
                result.answer = "I ran out of my token budget before finishing."
                break
        if self.guardrails is not None and result.stopped_by == "answer":
            verdict = self.guardrails.check_output(result.answer, task)
            self._trace(result, {"kind": "output_rail", "blocked": verdict.blocked,
                                 "rail": verdict.rail, "reason": verdict.reason})  # fmt: skip
            result.answer = verdict.message if verdict.blocked else verdict.text
            if verdict.blocked:
                result.stopped_by = "guardrail"
        result.seconds = time.perf_counter() - started
        return result

    def _model_step(
        self, step: int, messages: list[dict[str, Any]], result: AgentResult
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.config.model,
            "messages": messages,
            "max_tokens": self.config.max_tokens,
            "temperature": self.config.temperature,
        }
        if self.tools:
            request["tools"] = [t.schema() for t in self.tools.values()]
            request["tool_choice"] = self._tool_choice(step)
            if self.config.parallel_tool_calls is not None:
                request["parallel_tool_calls"] = self.config.parallel_tool_calls
        began = time.perf_counter()
        response = self.client.chat.completions.create(**request)
        seconds = time.perf_counter() - began
        choice = response.choices[0]
        message: dict[str, Any] = {"role": "assistant", "content": choice.message.content}
        if choice.message.tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function",
                 "function": {"name": c.function.name, "arguments": c.function.arguments}}
                for c in choice.message.tool_calls
            ]  # fmt: skip
        usage = response.usage
        prompt, completion = (usage.prompt_tokens, usage.completion_tokens) if usage else (0, 0)
        result.prompt_tokens += prompt
        result.completion_tokens += completion
        self._trace(result, {
            "kind": "model", "step": step, "response": message,
            "request": {**request, "messages": [dict(m) for m in messages]},  # as sent then
            "finish_reason": choice.finish_reason, "prompt_tokens": prompt,
            "completion_tokens": completion, "seconds": round(seconds, 4),
        })  # fmt: skip
        return message

    def _tool_step(self, step: int, call: dict[str, Any], result: AgentResult) -> dict[str, Any]:
        name = call["function"]["name"]
        began = time.perf_counter()
        try:
            arguments = json.loads(call["function"]["arguments"] or "{}")
            tool = self.tools.get(name)
            output = tool(arguments) if tool else f"error: no tool named {name!r}"
        except json.JSONDecodeError as error:
            arguments, output = {}, f"error: arguments are not JSON ({error})"
        except Exception as error:  # a tool's failure is the model's to read, not a crash
            arguments, output = arguments if "arguments" in locals() else {}, f"error: {error}"
        seconds = time.perf_counter() - began
        result.tool_calls.append({"name": name, "arguments": arguments})
        self._trace(result, {
            "kind": "tool", "step": step, "tool": name, "arguments": arguments,
            "output": output, "seconds": round(seconds, 4),
        })  # fmt: skip
        return {"role": "tool", "tool_call_id": call["id"], "content": output}


def save_transcript(result: AgentResult, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for event in result.transcript:
            out.write(json.dumps(event, default=str) + "\n")
    return path


def load_transcript(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        raise UserError("no such transcript", field=str(path))
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


class _Namespace:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


class ReplayClient:
    """Answers an agent's model calls from a transcript, in order, and records where the
    agent's requests differ from the recorded ones (``mismatches``)."""

    def __init__(self, transcript: list[dict[str, Any]]) -> None:
        self.events = [e for e in transcript if e.get("kind") == "model"]
        self.mismatches: list[str] = []
        self.chat = _Namespace(completions=_Namespace(create=self._create))

    def _create(self, **request: Any) -> Any:
        if not self.events:
            raise UserError("the agent made more model calls than the transcript holds")
        event = self.events.pop(0)
        recorded = json.loads(json.dumps(event["request"], default=str))
        if json.loads(json.dumps(request, default=str)) != recorded:
            self.mismatches.append(f"step {event['step']}: the request differs")
        message = event["response"]
        calls = [
            _Namespace(id=c["id"], function=_Namespace(**c["function"]))
            for c in message.get("tool_calls") or []
        ]
        return _Namespace(
            choices=[_Namespace(
                message=_Namespace(content=message.get("content"), tool_calls=calls or None),
                finish_reason=event.get("finish_reason"),
            )],
            usage=_Namespace(prompt_tokens=event.get("prompt_tokens", 0),
                             completion_tokens=event.get("completion_tokens", 0)),
        )  # fmt: skip
