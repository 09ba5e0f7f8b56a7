"""Multi-agent patterns on the same agent loop: orchestrator–worker and debate, with a
shared memory and a cost/latency report per agent (lecture 26, "Multi-Agent Systems").

- **Orchestrator–worker** (Anthropic's "orchestrator-workers" workflow; AutoGen's group
  manager): the orchestrator plans subtasks as JSON constrained by a schema (each names one
  of the workers, so the plan is always executable), each worker runs its subtask with its
  own tools, their results go into the shared memory, and the orchestrator writes the answer
  from the memory.
- **Debate** (Du et al., "Improving Factuality and Reasoning in Language Models through
  Multiagent Debate", 2023): several agents answer, then each revises after reading the
  others' answers for a number of rounds; a judge gives the final answer.

Every agent is an :class:`~scalable_ai.apps.agent.Agent`, so every step of every agent is
traced into the same run, and the report adds up each agent's calls, tokens and seconds.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

from scalable_ai.apps.agent import Agent, AgentConfig, AgentResult
from scalable_ai.apps.tools import Tool, function_tool


@dataclass
class SharedMemory:
    """Notes every agent can read and write (a blackboard), each tagged with its author."""

    notes: list[dict[str, str]] = field(default_factory=list)

    def write(self, author: str, text: str) -> None:
        self.notes.append({"author": author, "text": text})

    def text(self) -> str:
        return "\n".join(f"- {n['author']}: {n['text']}" for n in self.notes) or "(empty)"

    def tools(self, author: str) -> list[Tool]:
        """``remember(note)`` and ``recall()`` for one agent."""

        def remember(note: str) -> str:
            """Save a short note to the team's shared memory."""
            self.write(author, note)
            return "saved"

        def recall() -> str:
            """Read the team's shared memory."""
            return self.text()

        return [function_tool(remember), function_tool(recall)]


@dataclass
class AgentCost:
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    seconds: float = 0.0

    def add(self, result: AgentResult) -> None:
        self.calls += sum(1 for e in result.transcript if e["kind"] == "model")
        self.prompt_tokens += result.prompt_tokens
        self.completion_tokens += result.completion_tokens
        self.seconds += result.seconds


@dataclass
class TeamResult:
    answer: str
    costs: dict[str, AgentCost]
    memory: SharedMemory
    transcript: list[dict[str, Any]] = field(default_factory=list)

    def report(self) -> list[dict[str, Any]]:
        return [{"agent": name, **vars(cost)} for name, cost in self.costs.items()]


def _plan_schema(workers: list[str], most: int) -> dict[str, Any]:
    subtask = {
        "type": "object",
        "properties": {"worker": {"enum": workers}, "task": {"type": "string", "maxLength": 200}},
        "required": ["worker", "task"],
        "additionalProperties": False,
    }
    return {
        "type": "object",
        "properties": {
            "subtasks": {"type": "array", "items": subtask, "minItems": 1, "maxItems": most}
        },
        "required": ["subtasks"],
        "additionalProperties": False,
    }


def orchestrate(
    client: Any,
    task: str,
    workers: dict[str, tuple[str, list[Tool]]],
    config: AgentConfig | None = None,
    *,
    run: Any = None,
    most_subtasks: int = 3,
) -> TeamResult:
    """``workers``: name -> (what it is good at, its tools)."""
    config = config or AgentConfig()
    memory = SharedMemory()
    costs = {name: AgentCost() for name in ["orchestrator", *workers]}
    transcript: list[dict[str, Any]] = []
    roster = "\n".join(f"- {name}: {skill}" for name, (skill, _) in workers.items())
    began = time.perf_counter()
    plan = client.chat.completions.create(
        model=config.model,
        messages=[
            {"role": "system", "content": f"Split the task into subtasks for these workers:\n{roster}"},
            {"role": "user", "content": task},
        ],
        max_tokens=config.max_tokens,
        temperature=config.temperature,
        response_format={"type": "json_schema", "json_schema": {
            "name": "plan", "schema": _plan_schema(list(workers), most_subtasks)}},
    )  # fmt: skip
    usage = plan.usage
    cost = costs["orchestrator"]
    cost.calls += 1
    cost.prompt_tokens += usage.prompt_tokens if usage else 0
    cost.completion_tokens += usage.completion_tokens if usage else 0
    cost.seconds += time.perf_counter() - began
    try:
        subtasks = json.loads(plan.choices[0].message.content or "{}").get("subtasks", [])
    except json.JSONDecodeError:  # cut by max_tokens: fall back to one subtask per worker
        subtasks = [{"worker": name, "task": task} for name in workers][:most_subtasks]
    transcript.append({"agent": "orchestrator", "kind": "plan", "subtasks": subtasks})
    for subtask in subtasks:
        name = subtask["worker"]
        _, tools = workers[name]
        worker = Agent(client, [*tools, *memory.tools(name)], config, run=run, name=name)
        result = worker.run(subtask["task"])
        memory.write(name, result.answer)
        costs[name].add(result)
        transcript += result.transcript
    final = Agent(client, [], AgentConfig(**{**vars(config), "max_steps": 1}), run=run,
                  name="orchestrator").run(
        f"Task: {task}\n\nYour workers found:\n{memory.text()}\n\nWrite the final answer."
    )  # fmt: skip
    costs["orchestrator"].add(final)
    transcript += final.transcript
    return TeamResult(final.answer, costs, memory, transcript)


def debate(
    client: Any,
    question: str,
    debaters: int = 2,
    rounds: int = 2,
    config: AgentConfig | None = None,
    *,
    run: Any = None,
) -> TeamResult:
    """Each debater answers, then revises after reading the others; a judge decides."""
    config = AgentConfig(**{**vars(config or AgentConfig()), "max_steps": 1})
    memory = SharedMemory()
    names = [f"debater-{i + 1}" for i in range(debaters)]
    costs = {name: AgentCost() for name in [*names, "judge"]}
    transcript: list[dict[str, Any]] = []
    answers = {name: "" for name in names}
    for round_number in range(rounds):
        for name in names:
            others = "\n".join(f"{o}: {a}" for o, a in answers.items() if o != name and a)
            prompt = question if round_number == 0 or not others else (
                f"{question}\n\nOther agents answered:\n{others}\n\n"
                "Considering their answers, give your updated answer."
            )  # fmt: skip
            result = Agent(client, [], config, run=run, name=name).run(prompt)
            answers[name] = result.answer
            memory.write(name, f"round {round_number + 1}: {result.answer}")
            costs[name].add(result)
            transcript += result.transcript
    listed = "\n".join(f"{name}: {answer}" for name, answer in answers.items())
    verdict = Agent(client, [], config, run=run, name="judge").run(
        f"Question: {question}\n\nAnswers:\n{listed}\n\nGive the single best final answer."
    )
    costs["judge"].add(verdict)
    transcript += verdict.transcript
    return TeamResult(verdict.answer, costs, memory, transcript)
