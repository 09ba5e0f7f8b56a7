"""Fixtures for the applications tests: the embedding model behind our real server app.

``embeddings_client`` is the official ``openai`` client talking to our FastAPI app in this
process (one model load per session, no socket); ``served`` is ``sai serve smollm2-135m`` as
a real subprocess with ``HF_HUB_OFFLINE=1``, shared by every test that needs the whole server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import openai
import pytest

EMBEDDING_MODEL = "all-minilm-l6-v2"


def pytest_configure(config) -> None:
    # tests.eval.conftest (its tiny checkpoint, reused here) names this marker on import
    config.addinivalue_line("markers", "xdist_group(name): run on one xdist worker")


@pytest.fixture(scope="session")
def embedding_model():
    os.environ["HF_HUB_OFFLINE"] = "1"  # a hub lookup would be an error, not a download
    from scalable_ai.infer.embeddings import EmbeddingModel

    return EmbeddingModel()


@pytest.fixture(scope="session")
def embeddings_app(embedding_model):
    from scalable_ai.infer.embeddings import EmbeddingBatcher
    from scalable_ai.infer.server import create_app

    return create_app({}, {EMBEDDING_MODEL: EmbeddingBatcher(embedding_model)})


@pytest.fixture(scope="session")
def embeddings_client(embeddings_app):
    from fastapi.testclient import TestClient

    http = TestClient(embeddings_app, base_url="http://testserver/v1")
    return openai.OpenAI(base_url="http://testserver/v1", api_key="unused", http_client=http)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def sai_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("apps-serve")
    return {
        **os.environ,
        "SAI_DATA_DIR": str(root / "data"),
        "SAI_RUNS_DIR": str(root / "runs"),
        "HF_HUB_OFFLINE": "1",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
    }


@pytest.fixture(scope="session")
def served(sai_env):
    """``sai serve smollm2-135m`` (chat + embeddings) on a free loopback port: its base URL."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "scalable_ai.cli", "serve", "smollm2-135m", "--port", str(port),
         "--max-model-len", "2048", "--kv-cache-megabytes", "64"],
        env=sai_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
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
            raise RuntimeError("sai serve did not come up in 240 s")
        time.sleep(0.25)
    yield url
    process.terminate()
    assert process.wait(30) == 0


def start_server(
    checkpoint: Path, root: Path, guardrails: str, max_model_len: int = 1024, extra: tuple = ()
) -> tuple[subprocess.Popen, str]:
    """``sai serve CHECKPOINT`` (``--guardrails`` when given) on a free port: (process, /v1)."""
    port = free_port()
    env = {**os.environ, "SAI_DATA_DIR": str(root / "data"), "SAI_RUNS_DIR": str(root / "runs")}
    command = [sys.executable, "-m", "scalable_ai.cli", "serve", str(checkpoint)]
    command += ["--port", str(port), "--dtype", "float32", "--max-model-len", str(max_model_len)]
    command += ["--kv-cache-megabytes", "16", "--threads", "1", "--embedding-model", "none"]
    command += ["--guardrails", guardrails] if guardrails else []
    command += list(extra)
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while True:
        if process.poll() is not None:
            raise RuntimeError(process.stdout.read().decode())  # type: ignore[union-attr]
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return process, f"{url}/v1"
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise RuntimeError("sai serve did not come up in 90 s")
        time.sleep(0.1)
