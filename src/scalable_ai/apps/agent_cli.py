"""``sai agent`` (run a task with tools, replay a transcript) and ``sai guard`` (check text,
measure the rails on the red-team set)."""

from __future__ import annotations

import json
import shlex
from contextlib import ExitStack
from pathlib import Path

import typer

agent_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Tool-calling agents.")
guard_app = typer.Typer(add_completion=False, no_args_is_help=True, help="Guardrails.")

BASE_URL = typer.Option("http://127.0.0.1:8000/v1", help="The OpenAI-compatible server's /v1 URL.")


def _client(base_url: str):
    import openai

    return openai.OpenAI(base_url=base_url, api_key="unused", max_retries=0, timeout=600)


@agent_app.command("run")
def run_command(
    task: str = typer.Argument(..., help="What to do."),
    model: str = typer.Option("smollm2-135m", help="Chat model on the server."),
    base_url: str = BASE_URL,
    python: bool = typer.Option(False, help="Offer a sandboxed Python tool (run_python)."),
    rag_index: Path = typer.Option(None, help="Offer search_documents over this sai rag index."),
    mcp: list[str] = typer.Option([], help="An MCP server command (stdio), e.g. 'sai mcp'."),
    mcp_url: list[str] = typer.Option([], help="An MCP server URL (streamable HTTP)."),
    mcp_token: str = typer.Option("", envvar="SAI_API_TOKEN", help="Bearer token for --mcp-url."),
    guardrails: bool = typer.Option(False, help="Apply the guardrails to the task and answer."),
    guardrails_config: Path = typer.Option(None, help="Guardrails TOML (default: ours)."),
    max_steps: int = typer.Option(4),
    token_budget: int = typer.Option(6000),
    first_tool_choice: str = typer.Option("auto", help="auto, required or none on step 1."),
) -> None:
    """Run one task through the tool-calling loop; the run holds the transcript."""
    from scalable_ai.apps.agent import Agent, AgentConfig, save_transcript
    from scalable_ai.apps.guardrails import Guardrails
    from scalable_ai.apps.tools import mcp_tools, python_tool, retrieval_tool
    from scalable_ai.runs import open_run

    client = _client(base_url)
    config = AgentConfig(model=model, max_steps=max_steps, token_budget=token_budget,
                         first_tool_choice=first_tool_choice)  # fmt: skip
    with ExitStack() as stack, open_run("agent", config={**config.__dict__, "task": task}) as run:
        tools = [python_tool()] if python else []
        if rag_index is not None:
            from scalable_ai.apps.context import OpenAIEmbedder, Retriever
            from scalable_ai.apps.index import ChunkIndex

            store = ChunkIndex(rag_index, "all-minilm-l6-v2")
            tools.append(
                retrieval_tool(Retriever(store, OpenAIEmbedder(client, "all-minilm-l6-v2")))
            )
        for command in mcp:
            tools += stack.enter_context(mcp_tools(command=shlex.split(command), label=command))
        for url in mcp_url:
            headers = {"Authorization": f"Bearer {mcp_token}"} if mcp_token else {}
            tools += stack.enter_context(mcp_tools(url=url, headers=headers, label=url))
        rails = Guardrails.from_toml(guardrails_config) if guardrails else None
        result = Agent(client, tools, config, run=run, guardrails=rails).run(task)
        save_transcript(result, run.artifact("transcript.jsonl"))
        run.summary(stopped_by=result.stopped_by, steps=result.steps, tokens=result.tokens,
                    tool_calls=len(result.tool_calls), seconds=result.seconds)  # fmt: skip
        typer.echo(result.answer)
        typer.echo(
            f"-- {result.stopped_by} after {result.steps} steps, {result.tokens} tokens, "
            f"{len(result.tool_calls)} tool calls; transcript: {run.artifact('transcript.jsonl')}",
            err=True,
        )


@agent_app.command("replay")
def replay_command(
    transcript: Path = typer.Argument(..., help="A transcript.jsonl from sai agent run."),
) -> None:
    """Show a transcript step by step and re-run its tool calls to check they agree."""
    from scalable_ai.apps.agent import load_transcript

    for event in load_transcript(transcript):
        if event["kind"] == "model":
            message = event["response"]
            calls = message.get("tool_calls") or []
            said = ", ".join(
                f"{c['function']['name']}({c['function']['arguments']})" for c in calls
            ) or json.dumps(message.get("content"))
            typer.echo(f"step {event['step']} model ({event['seconds']} s): {said}")
        elif event["kind"] == "tool":
            typer.echo(f"step {event['step']} tool {event['tool']}: {event['output'][:300]}")
        else:
            typer.echo(f"{event['kind']}: blocked={event.get('blocked')} {event.get('reason')}")


JUDGE_MODEL = typer.Option(
    "", help="Also ask this chat model (the LLM-judge rail, run last), e.g. smollm2-135m."
)
JUDGE_URL = typer.Option("http://127.0.0.1:8000/v1", help="The judge model's server /v1 URL.")


SEMANTIC = typer.Option(
    False, help="Also the semantic rail: nearest labelled examples by sentence embedding."
)


def _rails(
    config: Path | None, judge_model: str, judge_url: str, sides: tuple[str, ...],
    semantic: bool = False,
):  # fmt: skip
    from scalable_ai.apps.guardrails import Guardrails, LLMJudge, with_judge

    rails = Guardrails.from_toml(config)
    if semantic:
        from scalable_ai.apps.semantic_rail import default_semantic_rail, with_semantic

        with_semantic(rails, default_semantic_rail())
    if judge_model:
        with_judge(rails, LLMJudge(_client(judge_url), judge_model), sides)
    return rails


@guard_app.command("check")
def check_command(
    text: str = typer.Argument(...),
    output: bool = typer.Option(False, help="Run the output rails instead of the input rails."),
    config: Path = typer.Option(None, help="Guardrails TOML (default: ours)."),
    judge_model: str = JUDGE_MODEL,
    judge_url: str = JUDGE_URL,
    semantic: bool = SEMANTIC,
) -> None:
    """Run the rails on one text: the verdict and the text that would go on."""
    sides = ("output",) if output else ("input",)
    rails = _rails(config, judge_model, judge_url, sides, semantic)
    verdict = rails.check_output(text) if output else rails.check_input(text)
    state = f"blocked by {verdict.rail} ({verdict.reason})" if verdict.blocked else "passed"
    typer.echo(f"{state}; fired: {', '.join(verdict.fired) or 'none'}")
    typer.echo(verdict.message if verdict.blocked else verdict.text)


@guard_app.command("eval")
def eval_command(
    config: Path = typer.Option(None, help="Guardrails TOML (default: ours)."),
    redteam: Path = typer.Option(None, help="Red-team YAML (default: ours)."),
    judge_model: str = JUDGE_MODEL,
    judge_url: str = JUDGE_URL,
    semantic: bool = SEMANTIC,
) -> None:
    """Block rate on the red-team set, false blocks on benign questions, latency per rail."""
    from scalable_ai.apps.redteam import evaluate_guardrails, load_redteam
    from scalable_ai.runs import open_run

    attacks, benign = load_redteam(redteam)
    rails = _rails(config, judge_model, judge_url, ("input",), semantic)
    settings = {"config": str(config or "builtin"), "redteam": str(redteam or "builtin"),
                "judge": judge_model, "semantic": semantic}  # fmt: skip
    with open_run("guard eval", config=settings) as run:
        scores = evaluate_guardrails(rails, attacks, benign)
        run.summary(**{k: v for k, v in scores.items() if k not in ("missed", "false_blocks")})
        typer.echo(
            f"block rate {scores['block_rate']:.3f} on {scores['attacks']} attacks, "
            f"false blocks {scores['false_block_rate']:.3f} on {scores['benign']} benign"
        )
        for rail, latency in scores["rail_latency_us"].items():
            typer.echo(
                f"  {rail:10s} median {latency['median']:8.1f} us  max {latency['max']:8.1f} us"
            )
        for text in scores["missed"]:
            typer.echo(f"  missed: {text}")
        for text in scores["false_blocks"]:
            typer.echo(f"  false block: {text}")
        typer.echo(f"run {run.id}")


assistant_app = typer.Typer(add_completion=False, help="The course assistant.")


@assistant_app.command()
def assistant(
    question: str = typer.Argument(..., help="Your question about the course."),
    model: str = typer.Option("smollm2-135m", help="Chat model on the server."),
    base_url: str = BASE_URL,
    index: Path = typer.Option(
        None, help="Syllabus index (default: $SAI_DATA_DIR/rag/assistant.db)."
    ),
) -> None:
    """Answer a course question for the student behind SAI_API_TOKEN, as the platform's
    /assistant page does (the same ask_assistant): routed to the course MCP tools (their own
    record, through the platform's permission gate) or to the syllabus with citations, with
    the guardrails on the question."""
    import os
    import sys

    import openai

    from scalable_ai.apps.context import OpenAIEmbedder, ingest
    from scalable_ai.apps.course_assistant import (
        EMBEDDING_MODEL,
        AssistantSearch,
        ask_assistant,
        assistant_index,
    )
    from scalable_ai.apps.index import ChunkIndex
    from scalable_ai.apps.ingest import default_counter
    from scalable_ai.apps.rag_eval import default_corpus
    from scalable_ai.apps.tools import mcp_tools
    from scalable_ai.errors import UserError
    from scalable_ai.runs import open_run

    if not os.environ.get("SAI_API_TOKEN"):
        raise UserError("set SAI_API_TOKEN to your course API token", field="SAI_API_TOKEN")
    client = _client(base_url)
    index = index or assistant_index()
    try:  # unchanged documents are skipped; a chat-only server leaves BM25 to answer
        if EMBEDDING_MODEL not in {m.id for m in client.models.list()}:
            raise UserError("the server does not embed", field="embedding_model")
        store = ChunkIndex(index, EMBEDDING_MODEL)
        ingest(default_corpus(docs=None), store, OpenAIEmbedder(client, EMBEDDING_MODEL),
               default_counter())  # fmt: skip
    except (openai.APIError, UserError) as error:  # e.g. sai serve --embedding-model none
        typer.echo(f"keyword search over the syllabus ({error})", err=True)
    command = [sys.executable, "-m", "scalable_ai.cli", "mcp"]
    with (
        mcp_tools(command=command, label="course") as course_tools,
        open_run("assistant", config={"question": question, "model": model}) as run,
    ):
        answer = ask_assistant(
            client, model, question, course_tools,
            search=AssistantSearch(client, index), run=run,
        )  # fmt: skip
        run.summary(route=answer.route, stopped_by=answer.stopped_by)
        typer.echo(answer.text)
        for number, source in enumerate(answer.citations, 1):
            typer.echo(f"[{number}] {source}")
