"""The course assistant: ``sai assistant`` and the platform's ``/assistant`` page, one recipe.

Right by design, not by luck, with a 135M-parameter model: the question is *routed* first,
and a figure from the student's record never passes through the model's retelling.

- **Routing** (:func:`route`; "semantic routing" in the agent-pattern literature, here
  keyword rules we can read): a question in the first person about the student's own slack
  days, deadlines, group/node or reservations goes to that course tool, the first model
  step forced to call it (``tool_choice`` naming the tool, or ``required`` over the few tools
  that match); the server's constrained decoding makes the call valid. A question about the
  schedule goes to ``course_schedule``, one about the rules that ``syllabus_rules`` states
  (slack days, reservation length, group size, deadline time) to it. Anything else is answered from the syllabus
  passages, numbered in the prompt and listed under the answer as its citations.
- **The tool's answer is the answer** (LangChain's ``return_direct``): the course tools lead
  their result with an ``answer`` line built from the record ("You have 2 of 3 slack days
  left; ..."), and the assistant returns that line. The model chose the call; the number
  came from the permission-gated record.
- **Scope**: the tools act for the signed-in person only. Their ``student_email`` argument
  (staff may name a student through ``sai mcp``) is not offered here, so a model cannot
  even ask for another student's record; the guardrails refuse such questions before any
  model call, and the permission gate would refuse the call anyway.
- **Retrieval**: hybrid (BM25 + vectors, RRF) over a ``sai rag`` index when one exists and
  the model server embeds, else BM25 (``bm25s``, Snowball stemming) over the shipped
  syllabus's chunks, built once per process in memory (``sai rag eval``: BM25 recall@5
  0.875 against hybrid's 0.958 on our 48 questions).

The course tools are :class:`~scalable_ai.course.mcp_server.CourseTools` (the bodies of
``sai mcp``'s tools) bound to the signed-in person on the page, or ``sai mcp``'s tools over
MCP for ``sai assistant``'s API token: same names, same bodies, same permission gate.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scalable_ai.apps.agent import Agent, AgentConfig
from scalable_ai.apps.guardrails import Guardrails
from scalable_ai.apps.ingest import Chunk, chunk_document, default_counter, load_document
from scalable_ai.apps.rag_eval import default_corpus
from scalable_ai.apps.tools import Tool, function_tool
from scalable_ai.errors import UserError

ASSISTANT_SYSTEM = (
    "You are the Scalable AI course assistant. Answer from the numbered sources below and "
    "cite them as [n]. Never reveal another student's data."
)
TOOL_SYSTEM = (
    "You are the Scalable AI course assistant. Call the course tool that answers the "
    "student's question about their own coursework."
)

#: Course tools that read the signed-in person's own record, and the words that route to each.
PERSONAL_ROUTES = {
    "my_slack_days": r"\bslack\b",
    "my_deadlines": r"\b(deadlines?|due|late|submit|next assignment|extensions?)\b",
    "my_group": r"\b(group|team|teammates?|partners?|node|ip( address)?|gpus?|machine)\b",
    "my_reservation_hostfile": r"\b(reservations?|reserved|hostfile|multi-?node|torchrun)\b",
}
SCHEDULE_ROUTE = r"\b(schedule|lectures?|next class|calendar|this week|office hours)\b"
#: Questions about the course's rules that ``syllabus_rules`` answers in one line.
RULES_ROUTE = (
    r"\b(slack days?|longest .{0,20}reservation|reservations? .{0,30}(last|long|hours)|"
    r"group size|how (big|large|many (students|people)) .{0,20}group|deadline time|"
    r"what time .{0,20}due)\b"
)
FIRST_PERSON = r"\b(i|i'm|me|my|mine|we|our|us)\b"


@dataclass(frozen=True)
class Route:
    """Where a question goes: ``tools`` (their names; the first step must call one of them)
    or ``retrieval`` (the syllabus passages, answered by the model with citations)."""

    kind: str
    tools: tuple[str, ...] = ()


def route(question: str) -> Route:
    """Route a question by its words: the student's own record, the schedule, or retrieval."""
    text = question.lower()
    if re.search(FIRST_PERSON, text):
        matched = tuple(n for n, words in PERSONAL_ROUTES.items() if re.search(words, text))
        if matched:
            return Route("tools", matched)
    if re.search(SCHEDULE_ROUTE, text):
        return Route("tools", ("course_schedule",))
    if re.search(RULES_ROUTE, text):
        return Route("tools", ("syllabus_rules",))
    return Route("retrieval")


@dataclass
class AssistantAnswer:
    """What the page shows: the answer, the sources it was given (numbered as cited), the
    course tools the model called, and why it stopped (``answer``, ``tool`` when a course
    tool's own answer line is the answer, ``guardrail`` ...)."""

    text: str
    citations: list[str] = field(default_factory=list)
    tools_called: list[str] = field(default_factory=list)
    stopped_by: str = "answer"
    route: str = "retrieval"


class SyllabusSearch:
    """BM25 over the syllabus's 200-token chunks (the ``sai rag`` chunker), in memory."""

    def __init__(self) -> None:
        import bm25s

        from scalable_ai.apps.index import _stemmer

        counter = default_counter()
        self.chunks: list[Chunk] = []
        for path in default_corpus(docs=None):
            self.chunks += chunk_document(load_document(path, "syllabus.txt"), counter)
        self.stemmer = _stemmer()
        self.bm25 = bm25s.BM25()
        tokens = bm25s.tokenize(
            [c.text for c in self.chunks], stopwords="en", stemmer=self.stemmer,
            show_progress=False,
        )  # fmt: skip
        self.bm25.index(tokens, show_progress=False)

    def search(self, query: str, k: int = 3) -> list[Chunk]:
        import bm25s

        tokens = bm25s.tokenize(
            [query], stopwords="en", stemmer=self.stemmer, return_ids=False, show_progress=False
        )
        if not tokens[0]:
            return []
        found, scores = self.bm25.retrieve(
            tokens, k=min(k, len(self.chunks)), show_progress=False, n_threads=1
        )
        return [self.chunks[int(i)] for i, s in zip(found[0], scores[0], strict=True) if s > 0]


_search: SyllabusSearch | None = None
_search_lock = threading.Lock()


def syllabus_search() -> SyllabusSearch:
    """The process's one :class:`SyllabusSearch` (built on first use)."""
    global _search
    with _search_lock:
        if _search is None:
            _search = SyllabusSearch()
        return _search


def citation(chunk: Chunk) -> str:
    return f"{chunk.source} § {chunk.section}" if chunk.section else chunk.source


def person_tools(course: Any) -> list[Tool]:
    """``sai mcp``'s tools as agent tools over ``course`` (a ``CourseTools`` bound to the
    signed-in person): same names, same bodies, same permission gate, for that person only
    (no ``student_email`` argument), results led by their ``answer`` line."""

    def my_deadlines() -> dict[str, Any]:
        """My upcoming assignment deadlines (slack days and exceptions applied) and project
        milestones."""
        return course.deadlines(None)

    def my_slack_days() -> dict[str, Any]:
        """My slack days: total, used and left (3 in all, at most 1 per assignment)."""
        return course.slack_days(None)

    def my_group() -> dict[str, Any]:
        """My group: its name, members, and its H100 node with the node's IP address."""
        return course.group(None)

    def my_reservation_hostfile() -> dict[str, Any]:
        """My group's multi-node reservations, with the hostfile while one is open."""
        return course.reservation_hostfile(None)

    def course_schedule() -> dict[str, Any]:
        """The course schedule: lectures, releases, deadlines and events, soonest first."""
        return course.schedule(None)

    def syllabus_rules() -> dict[str, Any]:
        """The syllabus's rules: grade weights, slack days, deadline time, group size."""
        return course.syllabus_rules(None)

    functions = (my_deadlines, my_slack_days, my_group, my_reservation_hostfile,
                 course_schedule, syllabus_rules)  # fmt: skip
    return [function_tool(f) for f in functions]


def for_self(tool: Tool) -> Tool:
    """A course tool for the caller's own person: without the ``student_email`` and paging
    arguments (the tool's defaults apply) and closed to any other (``additionalProperties``
    false, which the server's grammar enforces), so a model cannot name anyone else nor
    spend its tokens on made-up arguments."""
    parameters = dict(tool.parameters)
    properties = {
        k: v
        for k, v in (parameters.get("properties") or {}).items()
        if k not in ("student_email", "upcoming_only", "limit")
    }
    parameters["properties"] = properties
    parameters["additionalProperties"] = False
    parameters["required"] = [r for r in parameters.get("required", []) if r in properties]
    inner = tool.function
    return replace(
        tool,
        parameters=parameters,
        function=lambda arguments: inner({k: v for k, v in arguments.items() if k in properties}),
    )


EMBEDDING_MODEL = "all-minilm-l6-v2"


def assistant_index() -> Path:
    """The syllabus index ``sai assistant`` keeps (``$SAI_DATA_DIR/rag/assistant.db``)."""
    from scalable_ai.settings import get_settings

    return get_settings().data_dir / "rag" / "assistant.db"


class AssistantSearch:
    """Hybrid retrieval over a ``sai rag`` index when ``index`` exists, else (or when the
    model server does not embed) BM25 over the shipped syllabus (:class:`SyllabusSearch`)."""

    def __init__(self, client: Any, index: Path | None = None) -> None:
        self.retriever = None
        if index is not None and index.is_file():
            from scalable_ai.apps.context import OpenAIEmbedder, Retriever
            from scalable_ai.apps.index import ChunkIndex

            store = ChunkIndex(index, EMBEDDING_MODEL)
            self.retriever = Retriever(store, OpenAIEmbedder(client, EMBEDDING_MODEL))
        self.mode = "hybrid" if self.retriever else "bm25"

    def search(self, query: str, k: int = 3) -> list[Chunk]:
        import openai

        if self.retriever is not None:
            try:
                return _chunks(self.retriever.search(query, k))
            except (openai.APIError, UserError):  # a chat-only server: keywords still answer
                self.mode = "bm25"
        return syllabus_search().search(query, k)


def _chunks(found: list[Any]) -> list[Chunk]:
    return [getattr(hit, "chunk", hit) for hit in found]  # a Retriever's hits or chunks


def ask_assistant(
    client: Any,
    model: str,
    question: str,
    tools: list[Tool],
    *,
    guardrails: Guardrails | None = None,
    search: Any = None,
    max_tokens: int = 200,
    run: Any = None,
) -> AssistantAnswer:
    """One question, routed (:func:`route`): a course tool's own answer for the student's
    record or the schedule, else the model's answer over the syllabus passages with their
    citations; guardrails on the question (and on a model-written answer). ``search`` is a
    :class:`~scalable_ai.apps.context.Retriever` or :class:`SyllabusSearch` (default: the
    latter); ``run`` an open run to trace the agent's steps into."""
    rails = guardrails or Guardrails.from_toml()
    verdict = rails.check_input(question)
    if verdict.blocked:  # before any retrieval or model call
        return AssistantAnswer(rails.refusal, stopped_by="guardrail", route="refused")
    where = route(verdict.text)
    offered = {t.name: t for t in tools}
    chosen = [
        replace(for_self(offered[n]), return_direct=True) for n in where.tools if n in offered
    ]
    if where.kind == "tools" and chosen:
        tool_choice: str | dict[str, Any] = (
            {"type": "function", "function": {"name": chosen[0].name}}
            if len(chosen) == 1
            else "required"
        )
        config = AgentConfig(model=model, max_steps=2, max_tokens=max_tokens,
                             first_tool_choice=tool_choice, system=TOOL_SYSTEM,
                             parallel_tool_calls=False)  # fmt: skip
        result = Agent(client, chosen, config, guardrails=rails, run=run).run(verdict.text)
        return AssistantAnswer(
            text=result.answer,
            tools_called=[str(call.get("name")) for call in result.tool_calls],
            stopped_by=result.stopped_by,
            route="tools",
        )
    passages = _chunks((search or syllabus_search()).search(verdict.text, 3))
    sources = "\n".join(f"[{n}] ({citation(c)})\n{c.text}" for n, c in enumerate(passages, 1))
    system = f"{ASSISTANT_SYSTEM}\n\nSources:\n{sources}" if passages else ASSISTANT_SYSTEM
    config = AgentConfig(model=model, max_steps=1, max_tokens=max_tokens, system=system)
    result = Agent(client, [], config, guardrails=rails, run=run).run(verdict.text)
    blocked = result.stopped_by == "guardrail"
    return AssistantAnswer(
        text=result.answer,
        citations=[] if blocked else [citation(c) for c in passages],
        stopped_by=result.stopped_by,
        route="retrieval",
    )
