"""A ``sai serve`` of the bench's own, for the benches that talk to an OpenAI-compatible
server (``agent_eval.py``, ``auto_tool_calls.py``, ``eval_crosscheck.py``): ``make bench``
runs every bench with no server up, so a bench given no ``--base-url`` starts one on a free
port and stops it afterwards. (``make bench`` skips this module: its name starts with ``_``.)
"""

from __future__ import annotations

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
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"sai serve {model} exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"sai serve {model} did not come up in {wait_s:.0f} s")


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
