"""The sandbox (bubblewrap + limits): what an untrusted submission can and cannot do.

Each test runs a few lines of Python inside it, no pytest, no torch: milliseconds each.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import pytest

from scalable_ai.kits.kit import GraderLimits, kits_root
from scalable_ai.kits.sandbox import Bind, run_sandboxed


def sandboxed(code: str, scratch: Path, hide: list[Path] = (), **limits):
    settings = {"time_s": 30, "memory_mb": 1024, "output_kb": 64, **limits}
    return run_sandboxed(
        [sys.executable, "-c", code],
        binds=[Bind(scratch, "/tmp/work", writable=True)],
        cwd="/tmp/work",
        limits=GraderLimits(**settings),
        env={"PATH": "/usr/bin:/bin", "HOME": "/tmp"},
        hide=list(hide),
        mode="bwrap",
    )


def test_the_scratch_folder_is_writable_and_the_system_is_not(tmp_path):
    run = sandboxed(
        "open('answer.txt', 'w').write('42')\n"
        "try:\n    open('/usr/evil', 'w')\nexcept OSError as e:\n    print('refused', e.errno)",
        tmp_path,
    )
    assert run.returncode == 0, run.output
    assert "refused 30" in run.output  # EROFS
    assert (tmp_path / "answer.txt").read_text() == "42"


def test_there_is_no_network_not_even_to_this_host(tmp_path):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        run = sandboxed(
            "import socket\n"
            f"try:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
            "    print('connected')\nexcept OSError as e:\n    print('no network', type(e).__name__)",
            tmp_path,
        )
    assert "no network" in run.output and "connected" not in run.output


def test_a_hang_is_stopped_at_the_time_limit(tmp_path):
    run = sandboxed("while True:\n    pass", tmp_path, time_s=2)
    assert run.stopped == "stopped after the time limit of 2 s"
    assert run.crashed
    assert run.elapsed_s < 10


def test_printing_megabytes_is_stopped_and_kept_short(tmp_path):
    run = sandboxed("import sys\nwhile True:\n    sys.stdout.write('x' * 65536)", tmp_path)
    assert run.stopped == "stopped for printing more than the output limit of 64 KB"
    assert len(run.output) == 64 * 1024


def test_memory_beyond_the_limit_is_refused(tmp_path):
    run = sandboxed(
        "try:\n    block = bytearray(2 * 2**30)\n    print('allocated')\n"
        "except MemoryError:\n    print('MemoryError')",
        tmp_path,
        memory_mb=512,
    )
    assert "MemoryError" in run.output


def test_a_fork_bomb_hits_the_process_limit(tmp_path):
    run = sandboxed(
        "import os\nn = 0\ntry:\n    for _ in range(500):\n        if os.fork() == 0:\n"
        "            import time; time.sleep(3); os._exit(0)\n        n += 1\n"
        "except OSError:\n    print('refused after', n)",
        tmp_path,
        processes=32,
    )
    assert "refused after" in run.output
    assert int(run.output.split()[-1]) < 32


def test_the_kits_solutions_are_hidden_inside(tmp_path):
    """The kits folder (solutions, planted bugs) exists on the host but is empty inside."""
    kits = kits_root()
    assert (kits / "A4" / "solution").is_dir()
    run = sandboxed(f"import os\nprint(sorted(os.listdir({str(kits)!r})))", tmp_path, [kits])
    assert run.output.strip() == "[]"


@pytest.mark.parametrize("mode", ["none"])
def test_without_bubblewrap_the_limits_still_hold_and_the_run_says_so(tmp_path, mode):
    run = run_sandboxed(
        [sys.executable, "-c", "while True:\n    pass"],
        binds=[Bind(tmp_path, str(tmp_path), writable=True)],
        cwd=str(tmp_path),
        limits=GraderLimits(time_s=2, memory_mb=1024),
        env={"PATH": "/usr/bin:/bin"},
        mode=mode,
    )
    assert run.stopped == "stopped after the time limit of 2 s"
    assert run.sandbox == "none (resource limits only)"
    assert "network not cut off" in run.notes[0]
