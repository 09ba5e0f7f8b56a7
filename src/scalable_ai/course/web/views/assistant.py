"""The course assistant's page, beside the chat playground: ask a question about the course.

The answer comes from ``scalable_ai.apps.course_assistant.ask_assistant`` (what ``sai
assistant`` runs too) for the signed-in person: the course tools run as that person through the
service layer's permission gate (no API token is made or shown; a student reaches only their
own record), the syllabus passages it was given are listed under the answer as its
citations, and the guardrails refuse questions about other students' data before any model
call. The model is the playground's (``SAI_MODEL_URL``); without one the page says so. A
plain form post (no script): the answer comes back as the page, under the strict CSP.
``apps`` is imported only when a question is asked.
"""

from __future__ import annotations

from typing import Annotated, Any

import openai
from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from scalable_ai.course.web.model_server import (
    MODEL_URL_ENV,
    START_COMMAND,
    ModelServer,
    PlaygroundUnavailable,
    api_key,
    limiter_for,
    model_server_url,
    not_configured,
    probe_model_server,
    unreachable,
    upstream_refusal,
)
from scalable_ai.course.web.views.playground import MESSAGE_CHARS
from scalable_ai.course.web.visit import Visit, checked_form, open_visit
from scalable_ai.errors import UserError
from scalable_ai.settings import get_settings

router = APIRouter()
VisitDep = Annotated[Visit, Depends(open_visit)]
FormDep = Annotated[dict[str, Any], Depends(checked_form)]
QUESTION_CHARS = min(MESSAGE_CHARS, 1000)


def _page(visit: Visit, server: ModelServer, *, status_code: int = 200, **context: Any) -> Response:
    values: dict[str, Any] = {"question": "", "answer": None, "error": None, **context}
    return visit.page(
        "assistant.html",
        title="Course assistant",
        active="/playground",
        status_code=status_code,
        server=server,
        model_url_env=MODEL_URL_ENV,
        start_command=START_COMMAND,
        question_chars=QUESTION_CHARS,
        **values,
    )


@router.get("/assistant")
def assistant_page(visit: VisitDep) -> Response:
    visit.person()
    return _page(visit, probe_model_server())


def answer_for(person_id: int, visit: Visit, url: str, question: str) -> Any:
    """Ask the assistant as ``person_id`` (runs in a worker thread: the agent is blocking)."""
    from scalable_ai.apps.course_assistant import (
        AssistantSearch,
        ask_assistant,
        assistant_index,
        person_tools,
    )
    from scalable_ai.course.mcp_server import CourseTools

    course = CourseTools(visit.state.sessions, visit.state.clock, person_id=person_id)
    with openai.OpenAI(base_url=url, api_key=api_key(), max_retries=0, timeout=120.0) as client:
        model = get_settings().model_name or next(iter(client.models.list())).id
        search = AssistantSearch(client, assistant_index())  # hybrid if indexed, else BM25
        return ask_assistant(client, model, question, person_tools(course), search=search)


@router.post("/assistant/ask")
async def ask(visit: VisitDep, form: FormDep) -> Response:
    me = await run_in_threadpool(visit.person)
    question = str(form.get("question") or "").strip()
    try:
        if not question:
            raise UserError("write a question first", field="question")
        if len(question) > QUESTION_CHARS:
            raise UserError(
                f"is {len(question)} characters long; the assistant takes at most {QUESTION_CHARS}",
                field="question",
            )
        url = model_server_url()
        if url is None:
            raise not_configured()
        limiter_for(visit).admit(me.id)  # the playground's allowance: one model server
        try:
            answer = await run_in_threadpool(answer_for, me.id, visit, url, question)
        except openai.APIConnectionError as error:
            raise unreachable(url, error) from error
        except openai.APIStatusError as error:
            raise upstream_refusal(error) from error
    except UserError as error:
        server = await run_in_threadpool(probe_model_server)
        # No model server configured is how this course runs, not a failure: the page says so
        # (200, form disabled), as the GET does; a configured server that fails stays a 503.
        unconfigured = isinstance(error, PlaygroundUnavailable) and model_server_url() is None
        status = 200 if unconfigured else error.status_code
        return _page(visit, server, status_code=status, error=str(error), question=question)
    return _page(visit, ModelServer(url=url, models=[]), question=question, answer=answer)
