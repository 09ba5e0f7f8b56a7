"""Are ``tool_choice: "auto"`` calls schema-valid on a real model? (issue 19)

    python bench/auto_tool_calls.py -n 40     # starts its own `sai serve smollm2-135m`
    python bench/auto_tool_calls.py --base-url http://127.0.0.1:8000/v1 -n 40   # a running one

Sends ``-n`` sampled chat requests (temperature 1 by default, distinct seeds; a system message invites
a call for course-data questions) that may call a tool,
with the course assistant's six tool schemas and ``tool_choice: "auto"``, and counts the
answers that are text, the calls, and the calls that name one of the tools with arguments
valid under its schema (``jsonschema``). Before the triggered grammar SmolLM2 once called the
prompt's placeholder ``function_name``; every call should now be valid.
"""

from __future__ import annotations

import argparse
import json
from concurrent.futures import ThreadPoolExecutor

import jsonschema
import openai

from _serving import add_server_options, server_url
from scalable_ai.apps.tools import function_tool

QUESTIONS = [
    "How many slack days do I have left?",
    "Which group am I in and what is our node's IP?",
    "When is my next deadline?",
    "Show me my reservation's hostfile.",
    "What is on the course schedule this week?",
    "What are the grade weights?",
    "Hi! What can you do?",
    "Explain KV caching in one sentence.",
]


def course_tools() -> list:
    """The assistant's six course tools (their schemas; the bodies are not called)."""

    def my_slack_days(student_email: str = "") -> str:
        """My slack days: total, used and left."""
        return ""

    def my_deadlines(student_email: str = "") -> str:
        """My upcoming assignment deadlines and project milestones."""
        return ""

    def my_group() -> str:
        """My group: its name, members, and its node with the node's IP address."""
        return ""

    def my_reservation_hostfile() -> str:
        """My group's multi-node reservations, with the hostfile while one is open."""
        return ""

    def course_schedule(upcoming_only: bool = True, limit: int = 15) -> str:
        """The course schedule: lectures, releases, deadlines and events, soonest first."""
        return ""

    def syllabus_rules() -> str:
        """The syllabus's rules: grade weights, slack days, deadline time, group size."""
        return ""

    functions = (my_slack_days, my_deadlines, my_group, my_reservation_hostfile,
                 course_schedule, syllabus_rules)  # fmt: skip
    return [function_tool(f) for f in functions]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_options(parser)
    parser.add_argument("-n", type=int, default=40)
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--max-tokens", type=int, default=96)
    args = parser.parse_args()
    with server_url(args.base_url, args.model) as base_url:
        evaluate(args, base_url)


def evaluate(args: argparse.Namespace, base_url: str) -> None:
    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=600)
    tools = {t.name: t for t in course_tools()}

    def ask(i: int):
        reply = client.chat.completions.create(
            model=args.model,
            messages=[
                {
                    "role": "system",
                    "content": "Call a tool when the question is about the student's course data.",
                },
                {"role": "user", "content": QUESTIONS[i % len(QUESTIONS)]},
            ],
            tools=[t.schema() for t in tools.values()],
            tool_choice="auto",
            temperature=args.temperature,
            seed=i,
            max_tokens=args.max_tokens,
        )
        return reply.choices[0]

    with ThreadPoolExecutor(8) as pool:
        choices = list(pool.map(ask, range(args.n)))
    calls = [c for choice in choices for c in choice.message.tool_calls or []]
    valid = 0
    for call in calls:
        tool = tools.get(call.function.name)
        try:
            if tool is not None:
                jsonschema.validate(json.loads(call.function.arguments), tool.parameters)
                valid += 1
        except (json.JSONDecodeError, jsonschema.ValidationError):
            pass
        if tool is None:
            print(f"  invalid name: {call.function.name!r}")
    texts = sum(1 for c in choices if not c.message.tool_calls)
    cut = sum(1 for c in choices if "<tool_call>" in (c.message.content or ""))
    print(f"{args.n} requests: {texts} answered in text, {len(calls)} tool calls, "
          f"{valid} valid ({valid / max(len(calls), 1):.3f}); {cut} texts hold a call cut "
          f"off by max_tokens")  # fmt: skip


if __name__ == "__main__":
    main()
