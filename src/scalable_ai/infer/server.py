"""An OpenAI-compatible HTTP server over the engine (FastAPI, SSE streaming).

The server only translates: HTTP JSON in, engine requests; engine outputs, OpenAI JSON or
server-sent events out (``data: {...}`` lines ending with ``data: [DONE]``), exactly as the
official ``openai`` client expects. Errors have OpenAI's shape
``{"error": {"message", "type", "param", "code"}}``. A client that disconnects aborts its
request, which frees its KV blocks at the next step. Models are looked up by name in the
server's registry (one engine per served model). ``guard`` (``sai serve --guardrails``) puts
input and output rails around both generation endpoints; it is built by
``scalable_ai.apps.serve_guard`` and only duck-typed here: ``infer`` never imports ``apps``.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse

from scalable_ai.errors import NotFound, UserError
from scalable_ai.infer.admin import register_admin_routes
from scalable_ai.infer.async_engine import AsyncEngine
from scalable_ai.infer.embeddings import EmbeddingBatcher, EmbeddingRequest, embeddings_body
from scalable_ai.infer.engine import ChoiceDelta, RequestOutput, TokenLogprob
from scalable_ai.infer.metrics import ServingMetrics
from scalable_ai.infer.protocol import ChatCompletionRequest, CompletionRequest
from scalable_ai.infer.responses import chunk_body, delta_event, final_body
from scalable_ai.infer.sampling import SamplingParams
from scalable_ai.infer.tools import ToolCallParser


def error_body(message: str, kind: str, param: str | None, code: str | None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _user_error_response(error: UserError) -> JSONResponse:
    kind = "invalid_request_error" if error.status_code < 500 else "server_error"
    code = "model_not_found" if isinstance(error, NotFound) and error.field == "model" else None
    return JSONResponse(
        error_body(str(error), kind, error.field, code), status_code=error.status_code
    )


def _validation_response(_: Request, error: RequestValidationError) -> JSONResponse:
    first = error.errors()[0]
    location = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(location) or None
    message = f"{param}: {first.get('msg')}" if param else str(first.get("msg"))
    return JSONResponse(
        error_body(message, "invalid_request_error", param, "invalid_value"), status_code=400
    )


class OpenAIServer:
    """Engines by model name, metrics, and the translation between them and HTTP."""

    def __init__(self, engines: dict[str, AsyncEngine]) -> None:
        self.engines = engines
        self.metrics = ServingMetrics(
            lambda: {name: e.engine.stats() for name, e in self.engines.items()}
        )
        for name, engine in engines.items():
            engine.on_finished = lambda out, name=name: self.metrics.observe(name, out)

    def engine_for(self, model: str) -> AsyncEngine:
        return self.resolve(model)[0]

    def resolve(self, model: str) -> tuple[AsyncEngine, str | None]:
        """The engine for ``model``, and the LoRA adapter when it is ``base:adapter``."""
        base, _, adapter = model.partition(":") if model not in self.engines else (model, "", "")
        if base not in self.engines:
            raise NotFound(
                f"the model {model!r} does not exist; served: {', '.join(self.engines)}",
                field="model",
            )
        engine = self.engines[base]
        if adapter:
            engine.engine.lora_adapter(adapter)  # a 404 naming the loaded ones
        return engine, adapter or None

    def max_tokens_for(self, engine: AsyncEngine, prompt: Any, asked: int | None) -> tuple:
        """Token ids of the prompt and the output budget (the rest of the context if unset)."""
        tokenizer = engine.engine.tokenizer
        ids = tokenizer.encode(prompt) if isinstance(prompt, str) else list(prompt)
        limit = engine.engine.config.max_model_len
        max_tokens = asked if asked is not None else max(limit - len(ids), 1)
        engine.engine.check_length(len(ids), max_tokens)
        return ids, max_tokens


async def prompt_logprobs(
    engine: AsyncEngine, ids: list[int], body: CompletionRequest
) -> list[TokenLogprob]:
    """``echo`` with ``logprobs``: each prompt token's logprob given the tokens before it (the
    first has none: null, as OpenAI returns) with the ``logprobs`` most likely tokens there,
    plus the prompt's own token when it is not among them (OpenAI's "up to logprobs+1")."""
    if body.stream:
        raise UserError("echo with logprobs is not supported when streaming", field="echo")
    scored = await engine.score(ids, top=body.logprobs or 0)
    entries = [TokenLogprob(ids[0], None, [])]
    for token in scored:
        top = token.top if body.logprobs else []
        if body.logprobs and all(t != token.token_id for t, _ in top):
            top = [*top, (token.token_id, token.logprob)]
        entries.append(TokenLogprob(token.token_id, token.logprob, top))
    return entries


async def _merge(streams: list[AsyncIterator[RequestOutput]]) -> AsyncGenerator[tuple, None]:
    """Outputs of several prompts' streams as they come: (prompt index, output).

    One prompt (nearly every request) is read directly: no pump task and no second queue,
    so each token costs one task wake-up fewer.
    """
    if len(streams) == 1:
        stream = streams[0]
        try:
            async for output in stream:
                yield 0, output
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        return
    queue: asyncio.Queue = asyncio.Queue()

    async def pump(index: int, stream: AsyncIterator[RequestOutput]) -> None:
        try:
            async for output in stream:
                await queue.put((index, output))
        except BaseException as error:
            await queue.put((index, error))
            raise
        finally:
            await queue.put((index, None))

    tasks = [asyncio.create_task(pump(i, s)) for i, s in enumerate(streams)]
    remaining = len(tasks)
    try:
        while remaining:
            index, item = await queue.get()
            if item is None:
                remaining -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield index, item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class _Job:
    """One HTTP request's engine streams and its accumulated choices and usage."""

    def __init__(self, kind: str, model: str, n: int, num_prompts: int) -> None:
        self.id = f"{'chatcmpl' if kind == 'chat' else 'cmpl'}-{uuid.uuid4().hex}"
        self.kind, self.model, self.n = kind, model, n
        self.created = int(time.time())
        self.event_prefix: str | None = None  # a streamed chunk's JSON up to its choices
        self.pieces: list[list[str]] = [[] for _ in range(n * num_prompts)]
        self.text_lengths = [0] * (n * num_prompts)
        self.logprobs: list[list] = [[] for _ in range(n * num_prompts)]
        self.finish: list[str | None] = [None] * (n * num_prompts)
        self.prompt_tokens = [0] * num_prompts
        self.cached_tokens = [0] * num_prompts
        self.output_tokens = [0] * num_prompts
        self.prompt_logprobs: list[list[TokenLogprob]] | None = None  # echo with logprobs
        #: Chat with tools: each choice's text is split into content and tool calls.
        self.tool_parsers: list[ToolCallParser] | None = None
        #: Output rails (``sai serve --guardrails``): ``filter(index, delta)`` -> delta | None.
        self.output_guard: Any = None

    def record(self, prompt_index: int, output: RequestOutput) -> list[tuple[int, ChoiceDelta]]:
        self.prompt_tokens[prompt_index] = output.num_prompt_tokens
        self.cached_tokens[prompt_index] = output.num_cached_tokens
        self.output_tokens[prompt_index] = output.num_output_tokens
        out = []
        for delta in output.choices:
            index = prompt_index * self.n + delta.index
            if self.output_guard is not None:
                delta = self.output_guard.filter(index, delta)
                if delta is None:
                    continue  # a refused choice: the client already has its refusal
            if delta.text:
                self.pieces[index].append(delta.text)
                self.text_lengths[index] += len(delta.text)
            self.logprobs[index].extend(delta.logprobs)
            self.finish[index] = delta.finish_reason or self.finish[index]
            out.append((index, delta))
        return out

    @property
    def texts(self) -> list[str]:
        """Each choice's whole text so far (pieces are joined once, not copied per token)."""
        return ["".join(pieces) for pieces in self.pieces]

    def usage(self) -> dict[str, Any]:
        prompt, completion = sum(self.prompt_tokens), sum(self.output_tokens)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": sum(self.cached_tokens)},
        }


def create_app(
    engines: dict[str, AsyncEngine],
    embedders: dict[str, EmbeddingBatcher] | None = None,
    admin_token: str | None = None,
    guard: Any = None,
) -> FastAPI:
    """The FastAPI app serving ``engines`` (model name -> engine) under ``/v1``,
    ``embedders`` (model name -> sentence-embedding model) at ``/v1/embeddings``;
    ``admin_token`` turns on the admin routes (``admin.py``: LoRA adapters); ``guard``
    (an ``apps.serve_guard.ServerGuard``) runs guardrails on both generation endpoints."""
    server = OpenAIServer(engines)
    embedders = embedders or {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        for engine in engines.values():  # graceful: uvicorn has drained open requests by now
            await asyncio.to_thread(engine.shutdown)

    app = FastAPI(title="scalable-ai OpenAI-compatible server", lifespan=lifespan)
    app.state.server = server
    app.state.embedders = embedders
    handlers: dict[Any, Any] = {
        RequestValidationError: _validation_response,
        UserError: lambda _, error: _user_error_response(error),
    }
    for kind, handler in handlers.items():
        app.add_exception_handler(kind, handler)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        data = [
            {
                "id": name,
                "object": "model",
                "created": 0,
                "owned_by": "scalable-ai",
                "max_model_len": e.engine.config.max_model_len,
            }
            for name, e in engines.items()
        ]
        data += [
            {**entry, "id": f"{entry['id']}:{adapter}", "parent": entry["id"]}
            for entry, e in zip(list(data), engines.values(), strict=True)
            for adapter in e.engine.lora_names
        ]
        data += [
            {"id": name, "object": "model", "created": 0, "owned_by": "scalable-ai"}
            for name in embedders
        ]
        return {"object": "list", "data": data}

    @app.post("/v1/embeddings")
    async def embeddings(body: EmbeddingRequest) -> dict[str, Any]:
        if body.model not in embedders:
            raise NotFound(
                f"the embedding model {body.model!r} does not exist; served: "
                f"{', '.join(embedders) or 'none (sai serve --embedding-model)'}",
                field="model",
            )
        batcher = embedders[body.model]
        texts = body.texts(batcher.model)
        vectors = await batcher.embed(texts)
        return embeddings_body(body, vectors, sum(batcher.model.count_tokens(texts)))

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(server.metrics.render(), media_type="text/plain; version=0.0.4")

    register_admin_routes(app, server, admin_token)

    server_guard = guard

    def guard_for(request: Request) -> Any:
        """The guard for this request: none for the guard's own judge asking this server
        (it carries the guard's per-process secret), else the configured one."""
        if server_guard is None or server_guard.exempt(request.headers):
            return None
        return server_guard

    @app.post("/v1/completions")
    async def completions(body: CompletionRequest, request: Request) -> Response:
        engine, adapter = server.resolve(body.model)
        guard = guard_for(request)
        texts = body.prompts()
        if guard is not None:
            # Off the event loop: a judge rail may ask a model, even this server.
            texts, refusal = await asyncio.to_thread(
                guard.check_prompts, texts, engine.engine.tokenizer.decode
            )
            if refusal is not None:
                return _refusal(_Job("text", body.model, body.n, len(texts)), engine, body, refusal)
        prompts = [server.max_tokens_for(engine, p, body.max_tokens) for p in texts]
        params = [body.sampling_params(m, body.logprobs) for _, m in prompts]
        for p in params:
            p.lora = adapter
        await _check_grammar(engine, params[0])
        job = _Job("text", body.model, body.n, len(prompts))
        job.output_guard = guard and guard.for_choices(body.n * len(prompts))
        echo = [engine.engine.tokenizer.decode(ids) if body.echo else "" for ids, _ in prompts]
        if body.echo and body.logprobs is not None:
            job.prompt_logprobs = [await prompt_logprobs(engine, ids, body) for ids, _ in prompts]
        return await _respond(engine, job, prompts, params, body, request, echo)

    @app.post("/v1/chat/completions")
    async def chat(body: ChatCompletionRequest, request: Request) -> Response:
        engine, adapter = server.resolve(body.model)
        guard = guard_for(request)
        if guard is not None:
            refusal = await asyncio.to_thread(guard.check_messages, body.messages)
            if refusal is not None:
                return _refusal(_Job("chat", body.model, body.n, 1), engine, body, refusal)
        tokenizer = engine.engine.tokenizer
        text = tokenizer.apply_chat_template(body.conversation(), add_generation_prompt=True)
        prompt = server.max_tokens_for(engine, text, body.requested_max_tokens())
        params = [body.sampling_params(prompt[1], body.logprobs_count())]
        params[0].lora = adapter
        await _check_grammar(engine, params[0])
        job = _Job("chat", body.model, body.n, 1)
        job.output_guard = guard and guard.for_choices(body.n)
        if body.tool_mode()[0] != "none":
            job.tool_parsers = [ToolCallParser() for _ in range(body.n)]
        return await _respond(engine, job, [prompt], params, body, request, [""])

    return app


async def _check_grammar(engine: AsyncEngine, params: SamplingParams) -> None:
    """A grammar the library refuses is the client's 400, before anything is queued (the
    first constrained request also builds the model's token table, off the event loop)."""
    if params.grammar is not None:
        compiler = await asyncio.to_thread(engine.engine.grammar_compiler)
        await asyncio.to_thread(compiler.check, params.grammar)


async def _respond(
    engine: AsyncEngine,
    job: _Job,
    prompts: list[tuple],
    params: list[SamplingParams],
    body: Any,
    request: Request,
    echo: list[str],
) -> Response:
    streams = [engine.generate(ids, p) for (ids, _), p in zip(prompts, params, strict=True)]
    merged = _merge(streams)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)

        def step_events(prompt_index: int, output: RequestOutput) -> str:
            return "".join(
                [
                    delta_event(job, engine, index, delta)
                    for index, delta in job.record(prompt_index, output)
                ]
            )

        async def events() -> AsyncIterator[str]:
            # One write per engine step (all of its choices' events together), and the last
            # step's events, the usage chunk and [DONE] in one: each write is a send(2).
            # One prompt (nearly every request) reads its engine stream directly, without
            # ``_merge``'s layer: this loop runs once per token per stream.
            try:
                opening = [
                    _sse(chunk_body(job, engine, i, None, role=True))
                    for i in range(job.n if job.kind == "chat" else 0)
                ]
                opening += [
                    _sse(chunk_body(job, engine, i * job.n, None, echo=text))
                    for i, text in enumerate(echo)
                    if text
                ]
                if opening:
                    yield "".join(opening)
                last = ""
                if len(streams) == 1:
                    async for output in streams[0]:
                        step = step_events(0, output)
                        if output.finished:
                            last = step
                        elif step:
                            yield step
                        if _refused(job):
                            break  # closing the stream aborts the request
                else:
                    async for prompt_index, output in merged:
                        step = step_events(prompt_index, output)
                        if step:
                            yield step
                        if _refused(job):
                            break
                if include_usage:
                    usage = {
                        **chunk_body(job, engine, 0, None),
                        "choices": [],
                        "usage": job.usage(),
                    }
                    last += _sse(usage)
                yield last + "data: [DONE]\n\n"
            except UserError as error:
                yield _sse(error_body(str(error), "server_error", error.field, None))
            finally:
                await merged.aclose()
                if len(streams) == 1:
                    await streams[0].aclose()  # type: ignore[attr-defined]

        return StreamingResponse(
            events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
        )

    async def collect() -> None:
        async for prompt_index, output in merged:
            job.record(prompt_index, output)
            if _refused(job):
                await merged.aclose()  # aborts the request: its KV blocks are freed
                break

    task = asyncio.create_task(collect())
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=0.25)
            if not task.done() and await request.is_disconnected():
                task.cancel()  # closing the streams aborts the requests and frees their blocks
                await asyncio.gather(task, return_exceptions=True)
                return Response(status_code=499)
        task.result()
    finally:
        if not task.done():
            task.cancel()
    return JSONResponse(final_body(job, engine, echo))


def _refused(job: _Job) -> bool:
    """Every choice of the request was blocked by an output rail: stop generating."""
    return job.output_guard is not None and job.output_guard.all_refused


def _refusal(job: _Job, engine: AsyncEngine, body: Any, text: str) -> Response:
    """A request an input rail blocked, answered without the model: each choice is the
    refusal ``text`` with finish reason ``content_filter``, streamed or whole."""
    deltas = [ChoiceDelta(i, text, [], [], "content_filter") for i in range(len(job.pieces))]
    for delta in deltas:
        job.pieces[delta.index], job.text_lengths[delta.index] = [text], len(text)
        job.finish[delta.index] = delta.finish_reason
    if not body.stream:
        return JSONResponse(final_body(job, engine, [""] * len(job.prompt_tokens)))
    events = [chunk_body(job, engine, d.index, None, role=True) for d in deltas]
    events = (events if job.kind == "chat" else []) + [
        chunk_body(job, engine, d.index, d) for d in deltas
    ]
    if body.stream_options and body.stream_options.include_usage:
        events.append({**chunk_body(job, engine, 0, None), "choices": [], "usage": job.usage()})
    sse = "".join(map(_sse, events)) + "data: [DONE]\n\n"
    return StreamingResponse(iter([sse]), media_type="text/event-stream")


def _sse(payload: dict) -> str:
    return f"data: {json.dumps(payload, ensure_ascii=False)}\n\n"
