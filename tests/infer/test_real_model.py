"""``sai serve smollm2-135m`` as a real subprocess, driven by the official ``openai`` client."""

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
def served_smollm2(tmp_path_factory):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = tmp_path_factory.mktemp("serve")
    env = {**os.environ, "SAI_DATA_DIR": str(root / "data"), "SAI_RUNS_DIR": str(root / "runs")}
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
