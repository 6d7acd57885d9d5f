"""A local cluster on 127.0.0.1: create its folder (`init_cluster`), run its processes
(`LocalCluster`), always clean up.

`LocalCluster` owns the node processes it starts (`harness.net.procs`), reaps them, and
`close` stops every one of them, also the ones its pid files name from an earlier owner.
Use it as a context manager so a failing test still ends every process.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import signal
import socket
import subprocess
from pathlib import Path
from types import TracebackType

from harness.net import procs
from harness.net.config import (
    IDENTITY_FILE,
    WIRE_PROTOCOLS,
    ClusterConfig,
    ConfigError,
    load_config,
    render_config,
)

DEFAULT_TIMING_MS = {
    "heartbeat_interval_ms": 50,
    "election_timeout_ms": 300,
    "election_jitter_ms": 300,
    "lease_duration_ms": 600,
}


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free on 127.0.0.1 right now (the OS picks them)."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def init_cluster(
    folder: str | Path, nodes: int, timing_ms: dict[str, int] | None = None,
    protocol: str = "multipaxos",
) -> ClusterConfig:
    """Write ``folder/cluster.toml`` (fresh cluster id, free ports) and stamp each node's
    data directory. Raises ConfigError if ``folder`` already holds a cluster, or nodes < 1."""
    root = Path(folder)
    if nodes < 1:
        raise ConfigError(f"--nodes must be >= 1, got {nodes}")
    path = root / "cluster.toml"
    if path.exists():
        raise ConfigError(f"{path}: already exists (pick an empty folder)")
    for i in range(nodes):
        if (root / f"n{i}").exists():
            raise ConfigError(f"{root / f'n{i}'}: already exists (pick an empty folder)")
    cluster_id = f"paxlab-{secrets.token_hex(4)}"
    if protocol not in WIRE_PROTOCOLS:
        raise ConfigError(f"--protocol must be one of {', '.join(WIRE_PROTOCOLS)}, "
                          f"got {protocol!r}")
    text = render_config(cluster_id, free_ports(nodes), timing_ms or DEFAULT_TIMING_MS,
                         protocol)
    root.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    config = load_config(path)
    for spec in config.nodes:
        spec.data_dir.mkdir(parents=True)
        ident = {"cluster_id": config.cluster_id, "node_id": spec.id}
        (spec.data_dir / IDENTITY_FILE).write_text(json.dumps(ident) + "\n", encoding="utf-8")
    return config


class LocalCluster:
    """The node processes of ``config`` on this machine.

    Args:
        peer_addrs: per node, where it dials each peer (the nemesis's proxies), or None.
    """

    def __init__(
        self,
        config: ClusterConfig,
        peer_addrs: dict[int, dict[int, tuple[str, int]]] | None = None,
    ) -> None:
        self.config = config
        self.peer_addrs = peer_addrs or {}
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.exit_codes_seen: dict[int, list[int]] = {}

    def __enter__(self) -> LocalCluster:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def running(self) -> list[int]:
        return [n for n in self.config.ids if procs.running_pid(self.config, n) is not None]

    def start(self, node: int) -> None:
        """Start ``node`` (reaping an earlier process of it first)."""
        self._reap(node)
        self.procs[node] = procs.spawn_node(self.config, node, self.peer_addrs.get(node))

    def start_all(self) -> None:
        for n in self.config.ids:
            self.start(n)

    def kill(self, node: int) -> None:
        """SIGKILL ``node`` (a crash: nothing is flushed beyond what was fsynced)."""
        procs.signal_node(self.config, node, signal.SIGKILL)
        self._reap(node)

    def pause(self, node: int) -> None:
        procs.signal_node(self.config, node, signal.SIGSTOP)

    def resume(self, node: int) -> None:
        procs.signal_node(self.config, node, signal.SIGCONT)

    def stop(self, node: int, timeout_s: float = 5.0) -> str:
        outcome = procs.stop_node(self.config, node, timeout_s)
        self._reap(node)
        return outcome

    def stop_all(self, timeout_s: float = 5.0) -> dict[int, str]:
        outcome = procs.stop_all(self.config, timeout_s)
        for n in list(self.procs):
            self._reap(n)
        return outcome

    def exit_codes(self) -> dict[int, int | None]:
        """The exit code of each running-or-exited process started here (None: running);
        `exit_codes_seen` keeps the codes of processes already reaped, per node."""
        return {n: p.poll() for n, p in self.procs.items()}

    def _reap(self, node: int) -> None:
        proc = self.procs.pop(node, None)
        if proc is None:
            return
        try:
            code = proc.wait(timeout=5.0)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            code = proc.wait(timeout=5.0)
        self.exit_codes_seen.setdefault(node, []).append(code)

    def close(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL) and reap every process started here."""
        try:
            self.stop_all(timeout_s=3.0)
        finally:
            for n, proc in list(self.procs.items()):
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                self._reap(n)
