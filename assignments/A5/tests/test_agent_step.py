"""Part 4, visible: the tool-calling loop and its budgets (lecture L22)."""

import pytest

from scalable_ai.apps.agent import AgentConfig
from scalable_ai.apps.tools import function_tool


def slack_days_left(student: str) -> int:
    """Slack days a student has left."""
    return {"ada": 3, "bo": 0}[student]


@pytest.mark.points(6)
def test_a_tool_call_then_an_answer(submission):
    """The model calls slack_days_left(ada); the tool's result goes back as a tool message
    answering that call; the model's plain reply is the answer after 2 steps."""
    agent, lab = submission.module("agent_step"), submission.module("a5_lab")
    client = lab.ScriptedClient([
        lab.reply(calls=[("slack_days_left", {"student": "ada"})], prompt_tokens=50),
        lab.reply("Ada has 3 slack days left.", prompt_tokens=80, completion_tokens=9),
    ])  # fmt: skip
    result = agent.run_agent(client, [function_tool(slack_days_left)], "ada?", AgentConfig())
    assert (result.answer, result.stopped_by, result.steps) == (
        "Ada has 3 slack days left.",
        "answer",
        2,
    )
    assert result.tool_calls == [{"name": "slack_days_left", "arguments": {"student": "ada"}}]
    assert (result.prompt_tokens, result.completion_tokens) == (130, 29)
    second = client.requests[1]["messages"]
    assert second[-2]["role"] == "assistant" and second[-2]["tool_calls"][0]["id"] == "call_1_0"
    assert second[-1] == {"role": "tool", "tool_call_id": "call_1_0", "content": "3"}


@pytest.mark.points(4)
def test_a_bad_call_is_an_error_the_model_reads(submission):
    """An unknown tool and arguments that are not JSON come back as "error: ..." tool
    messages; the loop goes on."""
    agent, lab = submission.module("agent_step"), submission.module("a5_lab")
    client = lab.ScriptedClient([
        lab.reply(calls=[("grade_everyone", {}), ("slack_days_left", "{student: ada")]),
        lab.reply("Sorry, I could not look that up."),
    ])  # fmt: skip
    result = agent.run_agent(client, [function_tool(slack_days_left)], "ada?", AgentConfig())
    assert result.stopped_by == "answer" and result.steps == 2
    tool_messages = [m for m in client.requests[1]["messages"] if m["role"] == "tool"]
    assert len(tool_messages) == 2
    assert all(m["content"].startswith("error:") for m in tool_messages)


@pytest.mark.points(5)
def test_the_step_budget_stops_the_loop(submission):
    """A model that keeps calling tools is stopped after max_steps model calls."""
    agent, lab = submission.module("agent_step"), submission.module("a5_lab")
    script = [lab.reply(calls=[("slack_days_left", {"student": "bo"})]) for _ in range(6)]
    client = lab.ScriptedClient(script)
    config = AgentConfig(max_steps=3)
    result = agent.run_agent(client, [function_tool(slack_days_left)], "bo?", config)
    assert (result.stopped_by, result.steps, len(client.requests)) == ("max_steps", 3, 3)
    assert len(result.tool_calls) == 3
