"""``paxlab cluster init|start|stop|status``: a local cluster of node processes on 127.0.0.1.

- ``init --nodes N DIR``: write ``DIR/cluster.toml`` (fresh cluster id, free ports) and
  create each node's data directory, stamped with its identity.
- ``start --config FILE [--foreground]``: start every node that is not running (detached,
  pid files in ``<config folder>/run``), wait for a serving leader, show the status. With
  ``--foreground`` stay and restart any node that exits, until Ctrl-C or SIGTERM, then stop
  them all.
- ``stop --config FILE``: SIGTERM every node named by a pid file (SIGKILL after 5 s); works
  after the starter crashed.
- ``status --config FILE``: each node's pid, role, ballot, commit and applied index, lease.

Exit codes: 0 ok, 2 bad input (one line: the config field or file, a port in use), 3 no
serving leader within the timeout (start) or a node not answering (status).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import time
from typing import Any

import trio

from harness.cli import EXIT_OK, EXIT_USAGE
from harness.net import procs
from harness.net.config import (
    WIRE_PROTOCOLS,
    ClusterConfig,
    ConfigError,
    check_data_dir,
    load_config,
)
from harness.net.local import init_cluster

EXIT_UNAVAILABLE = 3
_PROG = "paxlab cluster"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "cluster", help="init, start, stop or show a local cluster of node processes",
        description="Manage a local cluster on 127.0.0.1.",
    )
    sub = parser.add_subparsers(dest="action", metavar="ACTION", parser_class=type(parser))
    sub.required = True
    p = sub.add_parser("init", help="write a fresh cluster config and data directories")
    p.add_argument("--nodes", type=int, default=3, help="number of nodes")
    p.add_argument("--protocol", default="multipaxos",
                   help=f"what every node runs: {'|'.join(WIRE_PROTOCOLS)} (default multipaxos)")
    p.add_argument("dir", help="an empty (or new) folder")
    p.set_defaults(func=_init)
    p = sub.add_parser("start", help="start every node and wait for a serving leader")
    p.add_argument("--config", required=True)
    p.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for a leader")
    p.add_argument("--foreground", action="store_true",
                   help="stay, restart nodes that exit, stop all on Ctrl-C")
    p.set_defaults(func=_start)
    p = sub.add_parser("stop", help="stop every node (pid files)")
    p.add_argument("--config", required=True)
    p.set_defaults(func=_stop)
    p = sub.add_parser("status", help="show each node's role, ballot, commit index, lease")
    p.add_argument("--config", required=True)
    p.set_defaults(func=_status)


def _error(message: str) -> int:
    print(f"{_PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _init(args: argparse.Namespace) -> int:
    try:
        config = init_cluster(args.dir, args.nodes, protocol=args.protocol)
    except ConfigError as exc:
        return _error(str(exc))
    except OSError as exc:
        return _error(f"{args.dir}: {exc.strerror or exc}")
    print(f"cluster {config.cluster_id}: {len(config.nodes)} nodes running {config.protocol}, "
          f"config {config.path}")
    return EXIT_OK


def _load(path: str) -> ClusterConfig:
    config = load_config(path)
    for n in config.ids:
        check_data_dir(config, n)
    return config


def _table(statuses: dict[int, dict[str, Any] | None], config: ClusterConfig) -> str:
    lines = [f"{'node':>4} {'pid':>7} {'role':<9} {'ballot':<8} {'commit':>7} {'applied':>7} "
             f"{'lease_ms':>8} {'serving':<7} frame_errors"]
    for n in config.ids:
        st = statuses.get(n)
        pid = procs.running_pid(config, n)
        if st is None:
            state = "stopped" if pid is None else "no-answer"
            lines.append(f"{n:>4} {pid or '-':>7} {state:<9}")
            continue
        ballot = st.get("ballot")
        b = "-" if ballot is None else f"{ballot[0]}.{ballot[1]}"
        if "term" in st:  # a Raft node: its term in the ballot column
            b = f"term {st['term']}"
        lease = st.get("lease_remaining_ms")
        lines.append(
            f"{n:>4} {st.get('pid', '-'):>7} {st.get('role', '?'):<9} {b:<8} "
            f"{st.get('commit_index', 0):>7} {st.get('applied_index', 0):>7} "
            f"{'-' if lease is None else lease:>8} {st.get('serving', False)!s:<7} "
            f"{st.get('frame_errors') or '-'}"
        )
    return "\n".join(lines)


def _start(args: argparse.Namespace) -> int:
    try:
        config = _load(args.config)
    except ConfigError as exc:
        return _error(str(exc))
    started: dict[int, subprocess.Popen[bytes]] = {}
    for n in config.ids:
        if procs.running_pid(config, n) is None:
            started[n] = procs.spawn_node(config, n)
    # until every node started answers (or one exits: a port in use ends a node at once)
    deadline = time.monotonic() + args.timeout
    waiting = set(started)
    while waiting and time.monotonic() < deadline:
        for n in sorted(waiting):
            code = started[n].poll()
            if code is not None:
                tail = procs.log_path(config, n).read_text(errors="replace").strip()
                procs.stop_all(config)
                last = tail.splitlines()[-1] if tail else f"node {n} exited with {code}"
                return _error(last.removeprefix("paxlab node: error: "))
            if trio.run(procs.node_status, config, n, 0.2) is not None:
                waiting.discard(n)
        time.sleep(0.05)
    leader = trio.run(procs.wait_serving, config, args.timeout)
    print(_table(trio.run(procs.cluster_status, config, 1.0), config))
    if leader is None:
        print(f"{_PROG}: no serving leader after {args.timeout}s; logs in {config.run_dir}",
              file=sys.stderr)
        if not args.foreground:
            return EXIT_UNAVAILABLE
    if args.foreground:
        return _supervise(config, started)
    return EXIT_OK


def _supervise(config: ClusterConfig, started: dict[int, subprocess.Popen[bytes]]) -> int:
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        while not stopping:
            for n in config.ids:
                proc = started.get(n)
                if proc is not None and proc.poll() is not None:
                    print(f"node {n} exited with {proc.returncode}; restarting", file=sys.stderr)
                    started[n] = procs.spawn_node(config, n)
            time.sleep(0.2)
    finally:
        outcome = procs.stop_all(config)
        for proc in started.values():
            proc.wait(timeout=10)
        print(" ".join(f"n{n}:{o}" for n, o in outcome.items()))
    return EXIT_OK


def _stop(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _error(str(exc))
    outcome = procs.stop_all(config)
    print(" ".join(f"n{n}:{o}" for n, o in outcome.items()))
    return EXIT_OK


def _status(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        return _error(str(exc))
    statuses = trio.run(procs.cluster_status, config, 1.0)
    print(_table(statuses, config))
    return EXIT_OK if all(st is not None for st in statuses.values()) else EXIT_UNAVAILABLE
