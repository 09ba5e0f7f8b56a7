"""Part 4, hidden: the loop equals the lab stack's Agent, step by step."""

import random

import pytest

from scalable_ai.apps.agent import Agent, AgentConfig
from scalable_ai.apps.tools import function_tool


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


def lookup(term: str) -> str:
    """Look a course term up."""
    return {"slack": "four days", "checkoff": "oral"}.get(term, "unknown")


TOOLS = [function_tool(add), function_tool(lookup)]


def _script(lab, rng):
    replies = []
    for _ in range(rng.randint(1, 6)):
        if rng.random() < 0.25:
            replies.append(
                lab.reply(f"answer {rng.randint(0, 9)}", prompt_tokens=rng.randint(10, 90))
            )
            break
        calls = [("add", {"a": rng.randint(0, 9), "b": rng.randint(0, 9)}),
                 ("lookup", {"term": rng.choice(["slack", "checkoff", "x"])})]  # fmt: skip
        replies.append(lab.reply(calls=rng.sample(calls, rng.randint(1, 2)),
                                 prompt_tokens=rng.randint(10, 400),
                                 completion_tokens=rng.randint(1, 50)))  # fmt: skip
    return replies


@pytest.mark.points(8)
def test_runs_equal_the_lab_agent(submission):
    """150 random scripts (answers, one or two tool calls a step, budgets of 1 to 5 steps and
    200 to 2000 tokens): the same requests (messages, tools, tool_choice) and the same
    answer, stop reason, steps, tokens and tool calls as scalable_ai.apps.agent.Agent."""
    agent, lab = submission.module("agent_step"), submission.module("a5_lab")
    rng = random.Random(9)
    for case in range(150):
        script = _script(lab, rng)
        config = AgentConfig(max_steps=rng.randint(1, 5), token_budget=rng.randint(200, 2000),
                             first_tool_choice=rng.choice(["auto", "required"]))  # fmt: skip
        script += [lab.reply("late answer")] * 6  # a model that answers once asked enough
        ours_client, lab_client = lab.ScriptedClient(script), lab.ScriptedClient(script)
        ours = agent.run_agent(ours_client, TOOLS, f"task {case}", config)
        theirs = Agent(lab_client, TOOLS, config).run(f"task {case}")
        assert ours_client.requests == lab_client.requests, case
        assert (ours.stopped_by, ours.steps, ours.prompt_tokens, ours.completion_tokens,
                ours.tool_calls) == (theirs.stopped_by, theirs.steps, theirs.prompt_tokens,
                                     theirs.completion_tokens, theirs.tool_calls), case  # fmt: skip
        if theirs.stopped_by == "answer":
            assert ours.answer == theirs.answer


@pytest.mark.points(4)
def test_the_token_budget_stops_the_loop(submission):
    """Tokens are summed over the model calls (prompt + completion); at 300 + 300 >= 500 the
    loop stops after the second step's tools ran, before a third call."""
    agent, lab = submission.module("agent_step"), submission.module("a5_lab")
    script = [lab.reply(calls=[("add", {"a": 1, "b": 2})], prompt_tokens=280, completion_tokens=20)
              for _ in range(5)]  # fmt: skip
    client = lab.ScriptedClient(script)
    result = agent.run_agent(client, TOOLS, "sum", AgentConfig(max_steps=5, token_budget=500))
    assert (result.stopped_by, result.steps, len(client.requests)) == ("token_budget", 2, 2)
    assert result.tokens == 600 and len(result.tool_calls) == 2


@pytest.mark.points(3)
def test_the_last_step_withholds_the_tools(submission):
    """tool_choice is first_tool_choice, then "auto", and "none" on the last allowed step."""
    agent, lab = submission.module("agent_step"), submission.module("a5_lab")
    script = [lab.reply(calls=[("lookup", {"term": "slack"})]) for _ in range(2)]
    client = lab.ScriptedClient([*script, lab.reply("four days")])
    config = AgentConfig(max_steps=3, first_tool_choice="required")
    result = agent.run_agent(client, TOOLS, "slack?", config)
    assert [r["tool_choice"] for r in client.requests] == ["required", "auto", "none"]
    assert result.answer == "four days" and result.stopped_by == "answer"
