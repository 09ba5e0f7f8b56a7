"""The OpenAI-compatible server: streaming under load, validation, disconnects, metrics."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import openai
import pytest
from prometheus_client.parser import text_string_to_metric_families


async def _stream_one(client: httpx.AsyncClient, url: str, i: int) -> tuple[str, dict, bool]:
    body = {
        "model": "tiny",
        "prompt": f"request number {i}:",
        "max_tokens": 8,
        "temperature": 0,
        "ignore_eos": True,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    text, usage, done = "", {}, False
    async with client.stream("POST", f"{url}/v1/completions", json=body) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line == "data: [DONE]":
                done = True
            elif line.startswith("data: "):
                event = json.loads(line[6:])
                usage = event.get("usage") or usage
                text += "".join(c["text"] for c in event["choices"])
    return text, usage, done


def test_200_concurrent_streaming_requests_all_complete_with_nothing_lost(live_server):
    async def main():
        limits = httpx.Limits(max_connections=250)
        async with httpx.AsyncClient(limits=limits, timeout=120) as client:
            return await asyncio.gather(
                *(_stream_one(client, live_server.url, i) for i in range(200))
            )

    results = asyncio.run(main())
    assert len(results) == 200
    for _text, usage, done in results:
        assert done
        assert usage["completion_tokens"] == 8
    # Same prompt, same greedy tokens: what streamed equals what a plain request returns.
    whole = httpx.post(
        f"{live_server.url}/v1/completions",
        json={
            "model": "tiny",
            "prompt": "request number 7:",
            "max_tokens": 8,
            "temperature": 0,
            "ignore_eos": True,
        },
    ).json()
    assert results[7][0] == whole["choices"][0]["text"]
    assert live_server.engine.pool.num_used == 0


def test_openai_client_works_unchanged_streaming_and_not(live_server):
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key="unused")
    assert [m.id for m in client.models.list()] == ["tiny"]
    chat = client.chat.completions.create(
        model="tiny",
        messages=[{"role": "user", "content": "hi"}],
        max_tokens=5,
        temperature=0,
        n=2,
        logprobs=True,
        top_logprobs=2,
    )
    assert len(chat.choices) == 2 and chat.choices[0].message.role == "assistant"
    assert chat.choices[0].message.content == chat.choices[1].message.content
    assert len(chat.choices[0].logprobs.content[0].top_logprobs) == 2
    assert chat.usage.completion_tokens == sum(len(c.logprobs.content) for c in chat.choices)
    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(
            model="tiny",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=5,
            temperature=0,
            stream=True,
        )
        if chunk.choices
    ]
    assert "".join(pieces) == chat.choices[0].message.content
    completion = client.completions.create(
        model="tiny", prompt="abc", max_tokens=4, temperature=0, logprobs=1, echo=True
    )
    assert completion.choices[0].text.startswith("abc")
    assert completion.usage.prompt_tokens == 3
    streamed = "".join(
        c.choices[0].text
        for c in client.completions.create(
            model="tiny", prompt="abc", max_tokens=4, temperature=0, stream=True
        )
    )
    assert "abc" + streamed == completion.choices[0].text


def test_validation_errors_are_openai_style_400s(live_server):
    url = f"{live_server.url}/v1"
    bad = httpx.post(
        f"{url}/chat/completions",
        json={"model": "tiny", "messages": [{"role": "user", "content": "x"}], "temperature": 5},
    )
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["param"] == "temperature" and error["type"] == "invalid_request_error"
    assert httpx.post(f"{url}/chat/completions", json={"model": "tiny"}).status_code == 400
    missing = httpx.post(f"{url}/completions", json={"model": "nope", "prompt": "x"})
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


def test_over_long_prompts_are_refused_with_a_clear_message(live_server):
    response = httpx.post(
        f"{live_server.url}/v1/completions",
        json={"model": "tiny", "prompt": "x" * 600, "max_tokens": 4},
    )
    assert response.status_code == 400
    message = response.json()["error"]["message"]
    assert "maximum context length is 512" in message and "600" in message


def test_a_disconnected_client_frees_its_blocks(live_server):
    engine = live_server.engine
    body = {
        "model": "tiny",
        "prompt": "go on and on",
        "max_tokens": 400,
        "temperature": 0,
        "ignore_eos": True,
        "stream": True,
    }
    with (
        httpx.Client(timeout=30) as client,
        client.stream("POST", f"{live_server.url}/v1/completions", json=body) as response,
    ):
        lines = response.iter_lines()
        assert next(lines).startswith("data: ")
        assert engine.pool.num_used > 0
    deadline = time.monotonic() + 10
    while engine.pool.num_used and time.monotonic() < deadline:
        time.sleep(0.05)
    assert engine.pool.num_used == 0
    assert not engine.has_unfinished_requests()


def test_metrics_parse_and_name_what_users_measure(live_server):
    httpx.post(
        f"{live_server.url}/v1/completions",
        json={"model": "tiny", "prompt": "measure me", "max_tokens": 3, "temperature": 0},
    )
    text = httpx.get(f"{live_server.url}/metrics").text
    names = {family.name for family in text_string_to_metric_families(text)}
    for name in (
        "sai_time_to_first_token_seconds",
        "sai_time_per_output_token_seconds",
        "sai_num_requests_waiting",
        "sai_kv_cache_blocks_used",
        "sai_prefix_cache_hit_rate",
    ):
        assert name in names
    assert httpx.get(f"{live_server.url}/health").json() == {"status": "ok"}


def test_load_generator_reports_throughput_and_latency_in_both_modes(live_server):
    from scalable_ai.infer.loadgen import LoadSpec, run_load

    spec = LoadSpec(
        base_url=f"{live_server.url}/v1",
        model="tiny",
        num_requests=8,
        prompt_tokens=8,
        output_tokens=6,
    )
    fixed = asyncio.run(run_load(spec, concurrency=4))
    assert fixed.num_ok == 8 and fixed.num_failed == 0
    assert fixed.output_tokens_per_s > 0 and 0 < fixed.ttft_p50 <= fixed.latency_p99
    assert fixed.tpot_p50 > 0
    paced = asyncio.run(run_load(spec, rate=50.0))
    assert paced.num_ok == 8 and paced.mode == "rate"


def test_load_generator_counts_refused_requests_as_failed_with_their_status(live_server):
    from scalable_ai.infer.loadgen import LoadSpec, run_load

    spec = LoadSpec(
        base_url=f"{live_server.url}/v1", model="no-such-model", num_requests=3, output_tokens=4
    )
    report = asyncio.run(run_load(spec, concurrency=2))
    assert report.num_ok == 0 and report.num_failed == 3
    assert any("HTTP 404" in error for error in report.errors)


def test_load_generator_counts_a_request_without_answer_as_failed_at_its_timeout():
    import socket

    from scalable_ai.infer.loadgen import LoadSpec, run_load

    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        spec = LoadSpec(base_url=url, num_requests=3, timeout_s=0.3)
        report = asyncio.run(run_load(spec, concurrency=2))
    assert report.num_ok == 0 and report.num_failed == 3
    assert any("TimeoutError" in error for error in report.errors)


def test_streamed_chunks_are_json_of_the_openai_chunk_shape_whatever_the_text():
    """Streamed events are built from a per-request prefix (they are sent once per token per
    stream); each must still be exactly ``json.dumps`` of the chunk object."""
    from scalable_ai.infer.engine import ChoiceDelta
    from scalable_ai.infer.responses import chunk_body, delta_event
    from scalable_ai.infer.server import _Job

    texts = ["", "plain", 'a "quote" \\ and\nnewline\t', "é漢字🙂", "\x00\x1f\u2028", "</s>"]
    for kind in ("chat", "text"):
        job = _Job(kind, 'model "x" é', n=2, num_prompts=2)
        for text in texts:
            for index, finish in ((0, None), (3, "stop"), (1, "length")):
                delta = ChoiceDelta(index, text, [1], [], finish)
                job.text_lengths[index] += len(text)
                expected = json.dumps(chunk_body(job, None, index, delta), ensure_ascii=False)
                assert delta_event(job, None, index, delta) == f"data: {expected}\n\n"
                assert json.loads(expected)["choices"][0]["index"] == index


def test_a_failing_step_is_logged_with_its_traceback_and_the_engine_keeps_serving(caplog):
    """A bug inside a step fails the requests it carried, loudly (stdlib logging with the
    traceback), and the next request is served."""
    import logging

    from scalable_ai.infer.async_engine import AsyncEngine
    from scalable_ai.infer.sampling import SamplingParams
    from tests.infer.conftest import make_engine

    engine = make_engine()
    step, calls = engine.step, []

    def first_step_breaks():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("a bug in the step")
        return step()

    engine.step = first_step_breaks
    front = AsyncEngine(engine)
    params = SamplingParams(max_tokens=3, temperature=0.0, ignore_eos=True)

    async def ask() -> list:
        return [out async for out in front.generate("hello", params)]

    try:
        with (
            caplog.at_level(logging.ERROR, logger="scalable_ai.infer.async_engine"),
            pytest.raises(RuntimeError, match="a bug in the step"),
        ):
            asyncio.run(ask())
        assert "engine step failed" in caplog.text
        assert "Traceback" in caplog.text and "first_step_breaks" in caplog.text
        assert asyncio.run(ask())[-1].finished
    finally:
        front.shutdown()
