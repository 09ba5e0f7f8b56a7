"""The course assistant for a signed-in person: the platform's ``/assistant`` page.

The same recipe as ``sai assistant`` (the course tools, the syllabus with citations, the
guardrails on question and answer), run inside the platform for whoever is signed in:

- the course tools are :class:`~scalable_ai.course.mcp_server.CourseTools`, the bodies of
  ``sai mcp``'s tools, bound to the signed-in person instead of an API token, so every call
  goes through the service layer's permission gate with exactly that person's scope (their
  own deadlines, slack days, group and reservations; another student's are refused);
- the syllabus passages are found by BM25 (``bm25s``, Snowball stemming) over the shipped
  syllabus's chunks, built once per process in memory: it needs no embedding model on the
  model server and no index file (``sai rag eval``: BM25 recall@5 0.875 against hybrid's
  0.958 on our 48 questions); the passages are numbered in the system prompt and shown
  under the answer as its citations;
- the guardrails (``apps/data/guardrails.toml``) check the question before the model sees
  it and the answer before the person does; a blocked question is answered with the
  configured refusal and no model call.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from scalable_ai.apps.agent import Agent, AgentConfig
from scalable_ai.apps.guardrails import Guardrails
from scalable_ai.apps.ingest import Chunk, chunk_document, default_counter, load_document
from scalable_ai.apps.rag_eval import default_corpus
from scalable_ai.apps.tools import Tool, function_tool

ASSISTANT_SYSTEM = (
    "You are the Scalable AI course assistant. For the student's own deadlines, slack days, "
    "group, node and reservations call the course tools; for course rules use the numbered "
    "sources below and cite them as [n]. Never reveal another student's data."
)


@dataclass
class AssistantAnswer:
    """What the page shows: the answer, the sources it was given (numbered as cited), the
    course tools the model called, and why it stopped (``answer``, ``guardrail`` ...)."""

    text: str
    citations: list[str] = field(default_factory=list)
    tools_called: list[str] = field(default_factory=list)
    stopped_by: str = "answer"


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
    """``sai mcp``'s six tools as agent tools over ``course`` (a ``CourseTools`` bound to the
    signed-in person): same names, same bodies, same permission gate."""

    def my_deadlines(student_email: str = "") -> dict[str, Any]:
        """My upcoming assignment deadlines (slack days and exceptions applied) and project
        milestones. Staff may name a student by e-mail; a student only themself."""
        return course.deadlines(None, student_email)

    def my_slack_days(student_email: str = "") -> dict[str, Any]:
        """My slack days: total, used and left. A student may only ask about themself."""
        return course.slack_days(None, student_email)

    def my_group() -> dict[str, Any]:
        """My group: its name, members, and its H100 node with the node's IP address."""
        return course.group(None)

    def my_reservation_hostfile() -> dict[str, Any]:
        """My group's multi-node reservations, with the hostfile while one is open."""
        return course.reservation_hostfile(None)

    def course_schedule(upcoming_only: bool = True, limit: int = 15) -> dict[str, Any]:
        """The course schedule: lectures, releases, deadlines and events, soonest first."""
        return course.schedule(None, upcoming_only, limit)

    def syllabus_rules() -> dict[str, Any]:
        """The syllabus's rules: grade weights, slack days, deadline time, group size."""
        return course.syllabus_rules(None)

    functions = (my_deadlines, my_slack_days, my_group, my_reservation_hostfile,
                 course_schedule, syllabus_rules)  # fmt: skip
    return [function_tool(f) for f in functions]


def ask_assistant(
    client: Any,
    model: str,
    question: str,
    tools: list[Tool],
    *,
    guardrails: Guardrails | None = None,
    search: SyllabusSearch | None = None,
    max_tokens: int = 200,
) -> AssistantAnswer:
    """One question: the syllabus passages for it in the system prompt, one course-tool
    call (required first, as ``sai assistant`` does), then the answer; guardrails on both."""
    rails = guardrails or Guardrails.from_toml()
    verdict = rails.check_input(question)
    if verdict.blocked:  # before any retrieval or model call
        return AssistantAnswer(rails.refusal, stopped_by="guardrail")
    passages = (search or syllabus_search()).search(verdict.text)
    sources = "\n".join(f"[{n}] ({citation(c)})\n{c.text}" for n, c in enumerate(passages, 1))
    system = f"{ASSISTANT_SYSTEM}\n\nSources:\n{sources}" if passages else ASSISTANT_SYSTEM
    config = AgentConfig(model=model, max_steps=2, max_tokens=max_tokens,
                         first_tool_choice="required", system=system)  # fmt: skip
    result = Agent(client, tools, config, guardrails=rails).run(verdict.text)
    blocked = result.stopped_by == "guardrail"
    return AssistantAnswer(
        text=result.answer,
        citations=[] if blocked else [citation(c) for c in passages],
        tools_called=[str(call.get("name")) for call in result.tool_calls],
        stopped_by=result.stopped_by,
    )
