"""Node processes of a local cluster: start, stop, kill, pause, resume, ask for status.

Each node runs as ``python -m harness.cli.node --config FILE --id N`` (``paxlab node``
without the other subcommands' imports) in its own session (so its
process group can be signalled without touching the caller's), with its output appended to
``<run dir>/nN.log`` and its pid in ``<run dir>/nN.pid``. The pid files are what lets
``paxlab cluster stop`` (or a test's cleanup) find nodes after their starter crashed; a pid is
only trusted while ``/proc/PID/cmdline`` still names this node and this config, so a reused
pid is never signalled.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import trio

from harness.net.config import ClusterConfig
from harness.net.frame import HELLO, ROLE_ADMIN, STATUS, STATUS_REPLY, Hello
from harness.net.stream import connect

log = logging.getLogger(__name__)


def pid_path(config: ClusterConfig, node: int) -> Path:
    return config.run_dir / f"n{node}.pid"


def log_path(config: ClusterConfig, node: int) -> Path:
    return config.run_dir / f"n{node}.log"


def _is_our_node(config: ClusterConfig, node: int, pid: int) -> bool:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    args = raw.decode(errors="replace").split("\0")
    if not ({"node", "harness.cli.node"} & set(args)) or str(config.path) not in args:
        return False
    try:
        return args[args.index("--id") + 1] == str(node)
    except (ValueError, IndexError):
        return False


def _zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] == "Z"


def running_pid(config: ClusterConfig, node: int) -> int | None:
    """The pid of node ``node`` if its pid file names a live process of that node, else None."""
    try:
        pid = int(pid_path(config, node).read_text().strip())
    except (OSError, ValueError):
        return None
    if _is_our_node(config, node, pid) and not _zombie(pid):
        return pid
    return None


def spawn_node(
    config: ClusterConfig, node: int, peer_addrs: dict[int, tuple[str, int]] | None = None
) -> subprocess.Popen[bytes]:
    """Start node ``node`` in a new session; writes its pid file. The caller reaps it."""
    config.run_dir.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "harness.cli.node", "--config", str(config.path),
           "--id", str(node)]
    for peer, (host, port) in sorted((peer_addrs or {}).items()):
        cmd += ["--peer-addr", f"{peer}={host}:{port}"]
    with log_path(config, node).open("ab") as out:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    pid_path(config, node).write_text(f"{proc.pid}\n")
    return proc


def signal_node(config: ClusterConfig, node: int, sig: int) -> bool:
    """Send ``sig`` to node ``node``'s process group; False if it is not running."""
    pid = running_pid(config, node)
    if pid is None:
        return False
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        return False
    return True


def wait_gone(config: ClusterConfig, node: int, timeout_s: float) -> bool:
    """Wait until node ``node`` has exited (its pid no longer ours); False on timeout."""
    deadline = time.monotonic() + timeout_s
    while running_pid(config, node) is not None:
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def stop_node(config: ClusterConfig, node: int, timeout_s: float = 5.0) -> str:
    """SIGTERM (and SIGCONT, in case it is paused), then SIGKILL after ``timeout_s``.

    Returns "stopped", "killed" or "not running". The pid file is removed.
    """
    if not signal_node(config, node, signal.SIGTERM):
        pid_path(config, node).unlink(missing_ok=True)
        return "not running"
    signal_node(config, node, signal.SIGCONT)
    outcome = "stopped"
    if not wait_gone(config, node, timeout_s):
        signal_node(config, node, signal.SIGKILL)
        wait_gone(config, node, 5.0)
        outcome = "killed"
    pid_path(config, node).unlink(missing_ok=True)
    return outcome


def stop_all(config: ClusterConfig, timeout_s: float = 5.0) -> dict[int, str]:
    """Stop every node of ``config`` (SIGTERM to all first, then wait, then SIGKILL)."""
    was_running = {n for n in config.ids if signal_node(config, n, signal.SIGTERM)}
    for n in was_running:
        signal_node(config, n, signal.SIGCONT)
    outcome = {}
    for n in config.ids:
        if n in was_running and wait_gone(config, n, timeout_s):
            pid_path(config, n).unlink(missing_ok=True)
            outcome[n] = "stopped"
        else:
            outcome[n] = stop_node(config, n, timeout_s)
    return outcome


async def node_status(config: ClusterConfig, node: int, timeout_s: float = 1.0
                      ) -> dict[str, Any] | None:
    """Ask node ``node`` for its status (`harness.net.node.NodeServer.status`); None if it
    does not answer within ``timeout_s``."""
    spec = config.node(node)
    with trio.move_on_after(timeout_s):
        try:
            fs = await connect(spec.host, spec.port, timeout_s)
        except OSError:
            return None
        try:
            await fs.send(HELLO, Hello(cluster_id=config.cluster_id, role=ROLE_ADMIN).encode())
            first = await fs.receive()
            if first is None or first[0] != HELLO:
                return None
            await fs.send(STATUS, b"")
            frame = await fs.receive()
            if frame is None or frame[0] != STATUS_REPLY:
                return None
            data = json.loads(frame[1])
            return data if isinstance(data, dict) else None
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError, ValueError):
            return None
        finally:
            with trio.CancelScope(shield=True):
                await fs.aclose()
    return None


async def cluster_status(config: ClusterConfig, timeout_s: float = 1.0
                         ) -> dict[int, dict[str, Any] | None]:
    """Every node's status (None: no answer), asked concurrently."""
    out: dict[int, dict[str, Any] | None] = {}

    async def one(n: int) -> None:
        out[n] = await node_status(config, n, timeout_s)

    async with trio.open_nursery() as nursery:
        for n in config.ids:
            nursery.start_soon(one, n)
    return {n: out[n] for n in config.ids}


async def wait_serving(config: ClusterConfig, timeout_s: float) -> int | None:
    """Wait until some node is a serving leader; returns its id, or None on timeout."""
    with trio.move_on_after(timeout_s):
        while True:
            statuses = await cluster_status(config, 0.5)
            for n, st in statuses.items():
                if st is not None and st.get("serving"):
                    return n
            await trio.sleep(0.05)
    return None
