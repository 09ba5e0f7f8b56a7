"""The agent on our 43 tasks (apps/data/agent_tasks.yaml) through any OpenAI-compatible server.

    python bench/agent_eval.py                # starts its own `sai serve smollm2-135m`
    python bench/agent_eval.py --base-url http://127.0.0.1:8000/v1   # or uses a running one

Per task kind: retrieval (search_documents over the syllabus index; run twice, with our
hybrid retriever and with an oracle retriever that returns the passage known to answer, for
contrast), tool (run_python in the sandbox), course (the course MCP server over stdio for a
demo student, answers checked against that student's real record) and refusal (the
guardrails must refuse). Success = the final answer matches the task's expected pattern (a
refusal task: the guardrails refused). Also recorded: whether the expected tool was called
and, for retrieval, whether the tool's passages contained the answer (retrieval recall).
Writes a run (`sai runs show`) with per-task rows in `tasks.jsonl`.

Course tasks run twice: ``ours`` is the plain agent loop (first call required, then the
model answers from the tool's result), ``assistant`` is the course assistant's
``ask_assistant`` (routed, the course tool's answer line returned as the answer): the
before and after of issue 19. ``course-heldout`` tasks ask the same in words written after
the assistant's router and not used to tune it. ``--kinds course,course-heldout`` runs
only those.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from importlib import resources
from pathlib import Path

import openai
import yaml

from _serving import add_server_options, server_url
from scalable_ai.apps.agent import Agent, AgentConfig, AgentResult
from scalable_ai.apps.context import OpenAIEmbedder, Retriever, build_context, ingest
from scalable_ai.apps.course_assistant import AssistantSearch, ask_assistant
from scalable_ai.apps.guardrails import Guardrails
from scalable_ai.apps.index import ChunkIndex
from scalable_ai.apps.ingest import default_counter
from scalable_ai.apps.rag_eval import answers, default_corpus, load_questions
from scalable_ai.apps.tools import function_tool, mcp_tools, python_tool, retrieval_tool
from scalable_ai.runs import open_run

NOW = "2026-03-06T12:00"


def demo_course(folder: Path) -> tuple[dict[str, str], dict[str, str]]:
    """A demo course database at NOW, one student's API token, and that student's facts."""
    from scalable_ai.course.clock import FixedClock, parse_instant
    from scalable_ai.course.db import make_engine, unit_of_work, upgrade
    from scalable_ai.course.demo import seed_demo
    from scalable_ai.course.service import Actor
    from scalable_ai.course.service.credentials import create_api_token
    from scalable_ai.course.service.groups import list_groups
    from scalable_ai.course.service.slack import slack_balance
    from scalable_ai.course.service.submissions import assignment_statuses

    staff = Actor.local_staff("bench")
    engine = make_engine(f"sqlite:///{folder / 'course.db'}")
    upgrade(engine)
    clock = FixedClock(parse_instant(NOW))
    with unit_of_work(engine) as session:
        seed_demo(session, clock)
    with unit_of_work(engine) as session:
        group = next(iter(list_groups(session, staff)))
        student = group.members[0]
        _, token = create_api_token(session, staff, person_id=student.id, name="b", clock=clock)
        balance = slack_balance(session, staff, student.id)
        upcoming = [s for s in assignment_statuses(session, staff, student.id)
                    if s.deadline >= clock.now()]  # fmt: skip
        facts = {
            "slack_left": str(balance.left), "slack_used": str(balance.used),
            "group": group.name, "node": group.node.name, "node_ip": group.node.external_ip,
            "next_assignment": upcoming[0].assignment.key,
        }  # fmt: skip
    env = {"SAI_DATABASE_URL": f"sqlite:///{folder / 'course.db'}", "SAI_NOW": NOW,
           "SAI_API_TOKEN": token}  # fmt: skip
    return env, facts


def oracle_tool(index: ChunkIndex, question) -> object:
    gold = [c for c in index.chunks() if answers(c, question)]

    def search_documents(query: str) -> str:
        """Search the course documents and return the passages that answer the query."""
        from scalable_ai.apps.context import Hit

        hits = [Hit(chunk, 1.0) for chunk in gold[:2]]
        return build_context(hits, 500, default_counter()).text

    return function_tool(search_documents)


def assistant_result(client, args, question, course_tools, search, rails) -> AgentResult:
    """The course assistant's answer in the agent's result shape (answer, stop, tools)."""
    answer = ask_assistant(
        client, args.model, question, course_tools, guardrails=rails,
        search=search, max_tokens=args.max_tokens,
    )  # fmt: skip
    result = AgentResult(answer=answer.text, stopped_by=answer.stopped_by, steps=1)
    result.tool_calls = [{"name": name} for name in answer.tools_called]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_server_options(parser)
    parser.add_argument("--limit", type=int, default=0, help="first N tasks only")
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--kinds", default="", help="e.g. course,refusal (default: all)")
    args = parser.parse_args()
    with server_url(args.base_url, args.model) as base_url:
        evaluate(args, base_url)


def evaluate(args: argparse.Namespace, base_url: str) -> None:

    client = openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=900)
    text = resources.files("scalable_ai.apps").joinpath("data/agent_tasks.yaml").read_text()
    tasks = yaml.safe_load(text)["tasks"]
    if args.kinds:
        tasks = [t for t in tasks if t["kind"] in args.kinds.split(",")]
    tasks = tasks[: args.limit or None]
    questions = {q.question: q for q in load_questions()}
    rails = Guardrails.from_toml()
    config = AgentConfig(model=args.model, max_steps=2, max_tokens=args.max_tokens,
                         first_tool_choice="required")  # fmt: skip
    with (
        tempfile.TemporaryDirectory() as folder,
        open_run("bench agent eval", config=vars(args)) as run,
    ):
        embed = OpenAIEmbedder(client, "all-minilm-l6-v2")
        index = ChunkIndex(Path(folder) / "index.db", "all-minilm-l6-v2")
        ingest(default_corpus(docs=None), index, embed, default_counter())
        hybrid_tool = retrieval_tool(Retriever(index, embed))
        search = AssistantSearch(client, Path(folder) / "index.db")
        env, facts = demo_course(Path(folder))
        command = [sys.executable, "-m", "scalable_ai.cli", "mcp"]
        rows = []
        with mcp_tools(command=command, env=env, label="course") as course_tools:
            for number, task in enumerate(tasks):
                variants = [("ours", None)]
                if task["kind"] == "retrieval":
                    variants.append(("oracle", oracle_tool(index, questions[task["question"]])))
                if task["kind"] in ("course", "course-heldout", "refusal"):
                    variants.append(("assistant", None))
                for variant, oracle in variants:
                    kind = task["kind"]
                    tools = {"retrieval": [oracle or hybrid_tool], "tool": [python_tool()],
                             "course": course_tools, "course-heldout": course_tools,
                             "refusal": [hybrid_tool, *course_tools]}[kind]  # fmt: skip
                    began = time.perf_counter()
                    if variant == "assistant":
                        result = assistant_result(client, args, task["task"], course_tools,
                                                  search, rails)  # fmt: skip
                    else:
                        result = Agent(client, tools, config, guardrails=rails).run(task["task"])
                    expect = task.get("expect", "")
                    for key, value in facts.items():
                        expect = expect.replace("{" + key + "}", re.escape(value))
                    if kind == "refusal":
                        success = result.stopped_by == "guardrail"
                    else:
                        success = bool(re.search(expect, result.answer, re.IGNORECASE))
                    outputs = [e["output"] for e in result.transcript if e["kind"] == "tool"]
                    row = {
                        "task": task["task"], "kind": kind, "variant": variant,
                        "success": success, "answer": result.answer,
                        "tools_called": [c["name"] for c in result.tool_calls],
                        "right_tool": task.get("tool", "") in [c["name"] for c in result.tool_calls]
                        if task.get("tool") else bool(result.tool_calls) or kind == "refusal",
                        "seconds": round(time.perf_counter() - began, 2),
                        "tokens": result.tokens, "stopped_by": result.stopped_by,
                    }  # fmt: skip
                    if kind == "retrieval":
                        phrase = re.sub(r"\s+", " ", questions[task["question"]].contains).lower()
                        row["retrieved_answer"] = any(
                            phrase in re.sub(r"\s+", " ", o).lower() for o in outputs
                        )
                    rows.append(row)
                    run.log(number, success=float(success), seconds=row["seconds"])
                    print(f"{kind:9s} {variant:6s} {'ok ' if success else 'no '} "
                          f"{row['seconds']:6.1f}s {task['task'][:50]!r} -> {result.answer[:70]!r}",
                          flush=True)  # fmt: skip
        path = run.artifact("tasks.jsonl")
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        summary: dict[str, float | int] = {"tasks": len(tasks)}
        for kind in ("retrieval", "tool", "course", "course-heldout", "refusal"):
            for variant in ("ours", "oracle", "assistant"):
                picked = [r for r in rows if r["kind"] == kind and r["variant"] == variant]
                if picked:
                    summary[f"{kind}.{variant}.success"] = sum(r["success"] for r in picked) / len(
                        picked
                    )
                    summary[f"{kind}.{variant}.right_tool"] = sum(
                        r["right_tool"] for r in picked
                    ) / len(picked)
                    if kind == "retrieval":
                        summary[f"{kind}.{variant}.retrieval_recall"] = sum(
                            r["retrieved_answer"] for r in picked
                        ) / len(picked)
        ours = [r for r in rows if r["variant"] == "ours"]
        summary["all.ours.success"] = sum(r["success"] for r in ours) / len(ours)
        summary["mean_seconds"] = sum(r["seconds"] for r in rows) / len(rows)
        run.summary(**summary)
        for key, value in summary.items():
            print(f"{key:34s} {value:.3f}" if isinstance(value, float) else f"{key:34s} {value}")
        print(f"run {run.id}")


if __name__ == "__main__":
    main()
