"""Run an untrusted command in a sandbox with limits on time, memory, processes and output.

The sandbox is Debian's ``bubblewrap`` (``bwrap``): the whole system read-only (``--ro-bind /
/``), a private ``/tmp`` of a fixed size, only the folders we bind visible for writing, an
empty network namespace (``--unshare-net``: no interface but a loopback nobody listens on),
its own PID namespace so nothing outlives it (``--unshare-pid --die-with-parent``), and
chosen folders hidden behind empty ones (the kits' solutions). Inside, when we are root, the
command drops to the ``nobody`` user (``setpriv``) so that the process limit means something
(the kernel never applies RLIMIT_NPROC to root), and ``prlimit`` sets the address-space,
process, file-size, open-file and CPU-time limits. The wall-clock limit and the output limit
are enforced here: past either, the whole sandbox is killed and the run says why.

Where ``bwrap`` cannot run (no user namespaces, e.g. inside Gradescope's own container, which
is itself the sandbox there), ``mode="auto"`` runs with the limits alone and says so.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from scalable_ai.errors import UserError
from scalable_ai.kits.kit import GraderLimits

NOBODY = 65534


@dataclass
class Bind:
    """A host folder shown inside the sandbox at ``inside``; read-only unless ``writable``."""

    host: Path
    inside: str
    writable: bool = False


@dataclass
class SandboxRun:
    """How a sandboxed command ended, and the start of what it printed."""

    returncode: int | None
    output: str
    output_bytes: int
    elapsed_s: float
    sandbox: str
    stopped: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def crashed(self) -> bool:
        """Killed by a signal or stopped by a limit, rather than exiting on its own."""
        return self.stopped is not None or (self.returncode is not None and self.returncode < 0)


@cache
def bubblewrap_works() -> bool:
    """Whether ``bwrap`` is installed and may create namespaces here."""
    if shutil.which("bwrap") is None:
        return False
    probe = ["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "true"]
    try:
        return subprocess.run(probe, capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _drops_to_nobody() -> bool:
    return os.geteuid() == 0 and shutil.which("setpriv") is not None


def _reopened_for_nobody() -> list[str]:
    """bwrap arguments that let ``nobody`` run this Python when it lives in a private folder
    (pyenv under ``/root``): the closed folder is replaced by an empty one (hiding the rest
    of it) and the interpreter's prefix is bound back inside, read-only."""
    args: list[str] = []
    for needed in sorted({Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()}):
        closed = [
            p for p in reversed(needed.parents) if p != Path("/") and not os.stat(p).st_mode & 0o001
        ]
        if closed:
            args += ["--perms", "0755", "--tmpfs", str(closed[0])]
            for between in reversed(needed.parents):
                if between.is_relative_to(closed[0]) and between != closed[0]:
                    args += ["--perms", "0755", "--dir", str(between)]
            args += ["--ro-bind", str(needed), str(needed)]
    return args


def _rebound_from_tmp() -> list[str]:
    """bwrap arguments that bind this Python and the ``scalable_ai`` package back, read-only,
    when they live under ``/tmp`` (a checkout cloned there, as CI may do), which the sandbox's
    private ``/tmp`` would otherwise hide: the grader could not even start its interpreter."""
    tmp = Path("/tmp")
    package_root = Path(__file__).resolve().parents[2]  # .../src holding scalable_ai
    needed = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(), package_root}
    args: list[str] = []
    made: set[Path] = set()
    for path in sorted(p for p in needed if p.is_relative_to(tmp) and p != tmp):
        for parent in reversed(path.parents):
            if parent.is_relative_to(tmp) and parent != tmp and parent not in made:
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(parent)
        args += ["--ro-bind", str(path), str(path)]
    return args


def _limit_prefix(limits: GraderLimits, drop_to_nobody: bool) -> list[str]:
    prefix: list[str] = []
    if drop_to_nobody:
        prefix += ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
        prefix += ["--no-new-privs", "--"]
    memory = limits.memory_mb * 2**20
    prefix += [
        "prlimit",
        f"--as={memory}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.scratch_mb * 2**20}",
        "--nofile=512",
        "--core=0",
        f"--cpu={limits.time_s + 5}",
        "--",
    ]
    return prefix


def _bwrap_prefix(binds: list[Bind], hide: list[Path], limits: GraderLimits, cwd: str) -> list[str]:
    args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    args += ["--size", str(limits.scratch_mb * 2**20), "--tmpfs", "/tmp"]
    args += _rebound_from_tmp()
    for folder in hide:
        if folder.exists():
            args += ["--tmpfs", str(folder)]
    if _drops_to_nobody():
        args += _reopened_for_nobody()
    made: set[str] = set()
    for bind in binds:
        # Folders bwrap makes on the way to a mount point are root-only (0700): open them.
        for parent in reversed(Path(bind.inside).parents):
            if str(parent) not in made and parent != Path("/") and parent != Path("/tmp"):
                args += ["--perms", "0755", "--dir", str(parent)]
                made.add(str(parent))
        args += ["--bind" if bind.writable else "--ro-bind", str(bind.host), bind.inside]
    args += ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts"]
    args += ["--die-with-parent", "--chdir", cwd, "--"]
    return args


def run_sandboxed(
    argv: list[str],
    *,
    binds: list[Bind],
    cwd: str,
    limits: GraderLimits,
    env: dict[str, str],
    hide: list[Path] = (),  # type: ignore[assignment]
    mode: str = "auto",
) -> SandboxRun:
    """Run ``argv`` inside the sandbox; never raises for what the command does.

    ``mode`` is ``bwrap`` (refuse to run without it), ``none`` (limits only, for a trusted
    container) or ``auto`` (bwrap when it works here). Outside bwrap the binds are not
    remapped: ``cwd`` and the paths in ``argv`` must then be host paths.
    """
    if mode not in ("auto", "bwrap", "none"):
        raise UserError(f"unknown sandbox mode {mode!r} (auto, bwrap or none)", field="sandbox")
    use_bwrap = mode == "bwrap" or (mode == "auto" and bubblewrap_works())
    if mode == "bwrap" and not bubblewrap_works():
        raise UserError("bubblewrap (bwrap) is not installed or cannot create namespaces here")
    notes: list[str] = []
    if use_bwrap:
        if _drops_to_nobody():
            for bind in binds:
                if bind.writable:
                    _give_to_nobody(bind.host)
        prefix = _bwrap_prefix(binds, list(hide), limits, cwd)
        command = prefix + _limit_prefix(limits, _drops_to_nobody()) + argv
        sandbox = "bubblewrap"
    else:
        command = _limit_prefix(limits, drop_to_nobody=False) + argv
        sandbox = "none (resource limits only)"
        notes.append("no bubblewrap here: ran with resource limits only, network not cut off")
    return _supervise(command, env, cwd if not use_bwrap else None, limits, sandbox, notes)


def _give_to_nobody(folder: Path) -> None:
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, NOBODY, NOBODY, follow_symlinks=False)


def _supervise(
    command: list[str],
    env: dict[str, str],
    cwd: str | None,
    limits: GraderLimits,
    sandbox: str,
    notes: list[str],
) -> SandboxRun:
    """Start ``command``, keep the first ``output_kb`` of its output, kill it past a limit."""
    keep = limits.output_kb * 1024
    started = time.monotonic()
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        start_new_session=True,
    )
    assert process.stdout is not None
    os.set_blocking(process.stdout.fileno(), False)
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    kept = bytearray()
    total = 0
    stopped: str | None = None
    deadline = started + limits.time_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            stopped = f"stopped after the time limit of {limits.time_s} s"
            break
        if not selector.select(timeout=min(left, 1.0)):
            if process.poll() is not None:
                break
            continue
        chunk = process.stdout.read(65536)
        if not chunk:  # end of output: the command has exited (or closed its output)
            break
        total += len(chunk)
        if len(kept) < keep:
            kept += chunk[: keep - len(kept)]
        if total > keep:
            stopped = f"stopped for printing more than the output limit of {limits.output_kb} KB"
            break
    if stopped is not None:
        _kill(process)
    try:
        returncode = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _kill(process)
        returncode = process.wait()
        stopped = stopped or f"stopped after the time limit of {limits.time_s} s"
    selector.close()
    process.stdout.close()
    return SandboxRun(
        returncode=returncode,
        output=kept.decode("utf-8", errors="replace"),
        output_bytes=total,
        elapsed_s=time.monotonic() - started,
        sandbox=sandbox,
        stopped=stopped,
        notes=notes,
    )


def _kill(process: subprocess.Popen) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
