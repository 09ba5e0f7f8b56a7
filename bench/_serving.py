"""A ``sai serve`` of the bench's own, for the benches that talk to an OpenAI-compatible
server (``agent_eval.py``, ``auto_tool_calls.py``, ``eval_crosscheck.py``): ``make bench``
runs every bench with no server up, so a bench given no ``--base-url`` starts one on a free
port and stops it afterwards. (``make bench`` skips this module: its name starts with ``_``.)
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(
    model: str, port: int, *, dtype: str | None = None, wait_s: float = 300
) -> subprocess.Popen:
    """``sai serve MODEL`` on 127.0.0.1:``port`` in its own process, once /health answers."""
    command = [sys.executable, "-m", "scalable_ai.cli", "serve", model, "--port", str(port)]
    command += ["--dtype", dtype] if dtype else []
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    return wait_until_answering(
        process, f"http://127.0.0.1:{port}/health", what=f"sai serve {model}", wait_s=wait_s
    )


def wait_until_answering(
    process: subprocess.Popen, url: str, *, what: str, wait_s: float
) -> subprocess.Popen:
    """``process`` once ``url`` answers 200; killed, and an error naming ``what``, if it
    exits first or ``wait_s`` pass."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{what} did not come up within {wait_s:.0f} s")


def add_server_options(parser: argparse.ArgumentParser) -> None:
    """``--base-url`` and ``--model`` for a bench that talks to an OpenAI-compatible server."""
    parser.add_argument(
        "--base-url",
        default="",
        help="an OpenAI-compatible server (default: start `sai serve MODEL` for this run)",
    )
    parser.add_argument("--model", default="smollm2-135m")


@contextmanager
def server_url(base_url: str, model: str, *, dtype: str | None = None) -> Iterator[str]:
    """``base_url`` when one is given; otherwise the ``/v1`` URL of a ``sai serve MODEL``
    started for the bench and stopped (SIGTERM: its graceful drain) when it ends."""
    if base_url:
        yield base_url
        return
    port = free_port()
    print(f"starting sai serve {model} on port {port} (give --base-url to use a running one)")
    process = start_server(model, port, dtype=dtype)
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
