"""``sai serve smollm2-135m`` as a real subprocess, driven by the official ``openai`` client,
and ``sai chat`` / ``sai generate`` as real subprocesses giving the server's answers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx
import openai
import pytest


@pytest.fixture(scope="module")
def sai_env(tmp_path_factory):
    """The environment every ``sai`` subprocess of this module shares (one data dir)."""
    root = tmp_path_factory.mktemp("serve")
    return {**os.environ, "SAI_DATA_DIR": str(root / "data"), "SAI_RUNS_DIR": str(root / "runs")}


def sai(env, *args: str, stdin: str | None = None) -> str:
    """Run the real ``sai`` command line; its stdout (exit code 0 asserted)."""
    result = subprocess.run(
        [sys.executable, "-m", "scalable_ai.cli", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def serve_smollm2(env, *extra: str):
    """``sai serve smollm2-135m`` as a subprocess on a free port; yields its URL, then
    stops it and checks that it exited cleanly."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scalable_ai.cli",
            "serve",
            "smollm2-135m",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--max-model-len",
            "1024",
            "--kv-cache-megabytes",
            "64",
            *extra,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None:
            raise RuntimeError(process.stdout.read().decode())
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("sai serve did not come up in 180 s")
        time.sleep(0.25)
    yield url
    process.terminate()
    assert process.wait(30) == 0


@pytest.fixture(scope="module")
def served_smollm2(sai_env):
    yield from serve_smollm2(sai_env)


@pytest.mark.slow
def test_smollm2_answers_paris_through_the_openai_client(served_smollm2):
    client = openai.OpenAI(base_url=f"{served_smollm2}/v1", api_key="unused")
    question = [{"role": "user", "content": "What is the capital of France?"}]
    answer = client.chat.completions.create(
        model="smollm2-135m", messages=question, max_tokens=20, temperature=0
    )
    assert "Paris" in answer.choices[0].message.content
    assert answer.choices[0].finish_reason == "stop"
    streamed = "".join(
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(
            model="smollm2-135m", messages=question, max_tokens=20, temperature=0, stream=True
        )
        if chunk.choices
    )
    assert streamed == answer.choices[0].message.content
    text = client.completions.create(
        model="smollm2-135m", prompt="The capital of France is", max_tokens=4, temperature=0
    )
    assert text.usage.completion_tokens == 4


QUESTION = "What is the capital of France?"


@pytest.mark.slow
def test_sai_chat_gives_the_servers_greedy_answer(served_smollm2, sai_env):
    """One generation stack: the terminal chat runs the same engine, sampler and weights."""
    client = openai.OpenAI(base_url=f"{served_smollm2}/v1", api_key="unused")
    served = client.chat.completions.create(
        model="smollm2-135m",
        messages=[{"role": "user", "content": QUESTION}],
        max_tokens=24,
        temperature=0,
    )
    expected = served.choices[0].message.content
    assert "Paris" in expected
    chatted = sai(
        sai_env, "chat", "--message", QUESTION, "--temperature", "0", "--max-tokens", "24"
    )
    assert chatted == expected + "\n"
    typed = sai(
        sai_env, "chat", "--temperature", "0", "--max-tokens", "24", stdin=f"{QUESTION}\n/exit\n"
    )
    assert typed == expected + "\n"


@pytest.mark.slow
def test_sai_generate_prints_only_the_servers_completion(served_smollm2, sai_env):
    client = openai.OpenAI(base_url=f"{served_smollm2}/v1", api_key="unused")
    prompt = "The capital of France is"
    served = (
        client.completions.create(model="smollm2-135m", prompt=prompt, max_tokens=12, temperature=0)
        .choices[0]
        .text
    )
    assert "Paris" in served
    # Not a terminal: exactly the completion, no newline added.
    assert sai(sai_env, "generate", "--max-tokens", "12", "--temperature", "0", prompt) == served


@pytest.mark.slow
def test_a_seed_gives_the_servers_sampled_tokens(served_smollm2, sai_env):
    client = openai.OpenAI(base_url=f"{served_smollm2}/v1", api_key="unused")
    prompt = "Once upon a time"
    served = (
        client.completions.create(
            model="smollm2-135m", prompt=prompt, max_tokens=16, temperature=1.0, top_p=0.95, seed=7
        )
        .choices[0]
        .text
    )
    printed = sai(
        sai_env,
        "generate",
        "--max-tokens",
        "16",
        "--temperature",
        "1.0",
        "--top-p",
        "0.95",
        "--seed",
        "7",
        prompt,
    )
    assert printed == served


WEATHER_PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "maxLength": 40},
        "unit": {"enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city", "unit"],
    "additionalProperties": False,
}


def ask_for_weather_tool_call(url: str) -> None:
    """The OpenAI client's tool call: a named tool, arguments that the tool's JSON schema
    accepts, whole and streamed alike."""
    import json

    import jsonschema

    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The current weather in a city.",
            "parameters": WEATHER_PARAMETERS,
        },
    }
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused")
    ask = dict(
        model="smollm2-135m",
        messages=[{"role": "user", "content": "What is the weather like in Paris today?"}],
        tools=[tool],
        tool_choice="required",
        parallel_tool_calls=False,
        temperature=0,
        max_tokens=60,
    )
    reply = client.chat.completions.create(**ask).choices[0]
    assert reply.finish_reason == "tool_calls"
    (call,) = reply.message.tool_calls
    assert call.function.name == "get_weather"
    arguments = json.loads(call.function.arguments)
    jsonschema.validate(arguments, WEATHER_PARAMETERS)
    assert "Paris" in arguments["city"]
    streamed = [
        delta
        for chunk in client.chat.completions.create(**ask, stream=True)
        for choice in chunk.choices
        for delta in choice.delta.tool_calls or []
    ]
    assert [(d.function.name, d.function.arguments) for d in streamed] == [
        ("get_weather", call.function.arguments)
    ]


@pytest.mark.slow
def test_smollm2_calls_a_tool_with_schema_valid_arguments(served_smollm2):
    ask_for_weather_tool_call(served_smollm2)


@pytest.mark.slow
def test_int4_smollm2_calls_a_tool_with_schema_valid_arguments(sai_env, served_smollm2):
    """Issue 18's done-when: ``sai serve --quant int4`` answers the OpenAI client with a
    JSON-schema-valid tool call (after the bf16 server converted the checkpoint once)."""
    for url in serve_smollm2(sai_env, "--quant", "int4"):
        ask_for_weather_tool_call(url)
