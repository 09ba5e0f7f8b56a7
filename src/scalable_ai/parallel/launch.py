"""``sai launch``: start one ``torchrun`` per node of a course reservation's hostfile.

The course platform hands a reservation's groups a hostfile, one ``IP slots=N`` line per
node with the rendezvous node first (``course/policy/nodes.py``), and a c10d rendezvous on
``FIRST_IP:29400``. This reads exactly that file and, for node ``i``, runs::

    torchrun --nnodes N --nproc-per-node SLOTS --rdzv-backend c10d \\
        --rdzv-endpoint FIRST_IP:29400 --rdzv-id ID --no-python COMMAND...

locally for a loopback address (``127.0.0.1``, ``::1``), and over ``ssh IP`` (in the same
directory, key-based, non-interactive) for any other. Before anything trains it checks
every line of the hostfile, that each remote host answers ssh, that a local rendezvous
port is free, and that a ``--spec`` fits the hostfile's process count.
"""

from __future__ import annotations

import ipaddress
import os
import shlex
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from scalable_ai.errors import UserError
from scalable_ai.parallel.spec import ParallelSpec

LOOPBACK_NAMES = {"localhost"}


@dataclass(frozen=True)
class Host:
    """One hostfile line: a node's address and how many processes (GPUs) it runs."""

    address: str
    slots: int

    @property
    def is_local(self) -> bool:
        if self.address in LOOPBACK_NAMES:
            return True
        return ipaddress.ip_address(self.address).is_loopback


def parse_hostfile(path: Path) -> list[Host]:
    """The hosts of an ``IP slots=N`` hostfile (blank lines and ``#`` comments allowed);
    a bad line is a :class:`UserError` naming the file, the line and the reason."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"no such file: {path}", field="hostfile")
    hosts = []
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{path}:{number}"
        parts = line.split()
        if len(parts) != 2 or not parts[1].startswith("slots="):
            raise UserError(
                f"{where}: expected 'IP slots=N', got {raw.strip()!r}", field="hostfile"
            )
        address, slots = parts[0], parts[1].removeprefix("slots=")
        if address not in LOOPBACK_NAMES:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise UserError(
                    f"{where}: {address!r} is not an IP address", field="hostfile"
                ) from None
        if not slots.isdigit() or int(slots) < 1:
            raise UserError(
                f"{where}: slots must be a positive integer, got {slots!r}", field="hostfile"
            )
        hosts.append(Host(address, int(slots)))
    if not hosts:
        raise UserError(f"{path} lists no hosts", field="hostfile")
    return hosts


@dataclass(frozen=True)
class NodeLaunch:
    """What runs on one node: its rank, its host, the argv (ssh-wrapped when remote)."""

    node_rank: int
    host: Host
    argv: list[str]

    @property
    def command_line(self) -> str:
        return shlex.join(self.argv)


def plan_launch(
    hosts: list[Host],
    command: list[str],
    *,
    port: int = 29400,
    nproc_per_node: int | None = None,
    rdzv_id: str = "sai",
    spec: ParallelSpec | None = None,
    workdir: Path | None = None,
) -> list[NodeLaunch]:
    """One torchrun command line per host (see the module docstring)."""
    if not command:
        raise UserError(
            "give the program to run after '--', e.g. -- sai train ...", field="command"
        )
    per_node = [nproc_per_node or host.slots for host in hosts]
    if spec is not None and spec.world_size != sum(per_node):
        raise UserError(
            f"{spec} needs {spec.world_size} processes but the hostfile runs "
            f"{sum(per_node)} ({len(hosts)} nodes)",
            field="spec",
        )
    endpoint = f"[{hosts[0].address}]" if ":" in hosts[0].address else hosts[0].address
    workdir = workdir or Path.cwd()
    launches = []
    for rank, (host, nproc) in enumerate(zip(hosts, per_node, strict=True)):
        torchrun = [
            "--nnodes",
            str(len(hosts)),
            "--nproc-per-node",
            str(nproc),
            "--rdzv-backend",
            "c10d",
            "--rdzv-endpoint",
            f"{endpoint}:{port}",
            "--rdzv-id",
            rdzv_id,
            "--no-python",
            *command,
        ]
        if host.is_local:
            argv = [sys.executable, "-m", "torch.distributed.run", *torchrun]
        else:
            remote = f"cd {shlex.quote(str(workdir))} && torchrun {shlex.join(torchrun)}"
            if spec is not None:
                remote = f"SAI_PARALLEL={shlex.quote(str(spec))} {remote}"
            argv = ["ssh", "-o", "BatchMode=yes", host.address, remote]
        launches.append(NodeLaunch(rank, host, argv))
    return launches


def check_reachable(hosts: list[Host], port: int, timeout_s: float = 5.0) -> None:
    """Refuse before training: a remote host that does not answer ssh, or a local
    rendezvous port already taken."""
    first = hosts[0]
    if first.is_local:
        with socket.socket(socket.AF_INET6 if ":" in first.address else socket.AF_INET) as probe:
            try:
                probe.bind((first.address, port))
            except OSError as error:
                raise UserError(
                    f"rendezvous port {first.address}:{port} is not free ({error.strerror})",
                    field="port",
                ) from None
    for host in {h.address: h for h in hosts if not h.is_local}.values():
        if shutil.which("ssh") is None:
            raise UserError(f"{host.address} is remote and ssh is not installed", field="hostfile")
        answer = subprocess.run(
            [
                "ssh",
                "-o",
                "BatchMode=yes",
                "-o",
                f"ConnectTimeout={int(timeout_s)}",
                host.address,
                "true",
            ],
            capture_output=True,
            text=True,
            timeout=timeout_s + 10,
        )
        if answer.returncode != 0:
            reason = (answer.stderr.strip().splitlines() or ["no answer"])[-1]
            raise UserError(
                f"host {host.address} is unreachable over ssh: {reason}", field="hostfile"
            )


def run_launches(launches: list[NodeLaunch], spec: ParallelSpec | None = None) -> int:
    """Start every node's torchrun at once, wait for all; if one fails, stop the others.
    Returns the first non-zero exit code (0 when every node succeeded)."""
    env = dict(os.environ)
    if spec is not None:
        env["SAI_PARALLEL"] = str(spec)
    processes = [subprocess.Popen(launch.argv, env=env) for launch in launches]
    code = 0
    try:
        for process in processes:
            status = process.wait()
            if status and not code:
                code = status
                for other in processes:
                    if other.poll() is None:
                        other.terminate()
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return code
