"""``paxlab load --config FILE --ops N --clients K [--keys K] [--duration S] [--nemesis ...]``.

Drives a real cluster with K clients (`harness.net.load`), checks the history for
linearizability (S8) and prints throughput and latency percentiles. Without ``--nemesis`` the
cluster must be running (``paxlab cluster start``); with ``--nemesis kill,pause,partition,net``
the run starts its own nodes behind fault proxies, restarts them all at the end to check
durability, and stops them (`harness.net.session`).

Output: the options first, then the figures, then one verdict line naming the artifact folder
(``--out``, default ``<config folder>/runs/load-<UTC time>``), which ``paxlab report`` draws
(its manifest ``artifact.json``: `harness.failures.load_artifact`).

Exit codes: 0 linearizable, 1 violation, 2 bad input or an unreachable cluster (one line),
3 unknown (the checker's budget ran out, or a key could not be read back), 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import trio

from harness.checks.history_files import write_history
from harness.cli import (
    EXIT_OK,
    EXIT_USAGE,
    EXIT_VIOLATION,
    interrupted_by_ctrl_c,
    positive_float,
    positive_int,
)
from harness.failures.load_artifact import write_load_artifact
from harness.net.config import ClusterConfig, ConfigError, load_config
from harness.net.load import LoadRun
from harness.net.nemesis import parse_kinds
from harness.net.session import ClusterUnavailable, finish_session, run_session

EXIT_UNKNOWN = 3
EXIT_INTERRUPTED = 130
INTERRUPTED_CHECK_S = 10.0
"""The linearizability check's budget for an interrupted run's history (the user is waiting)."""
_PROG = "paxlab load"




def _kinds(text: str) -> tuple[str, ...]:
    if text == "none":
        return ()
    try:
        return parse_kinds(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "load", help="drive a real cluster, check linearizability, report latency",
        description="Run K clients against the cluster of --config; exit 0 linearizable, "
        "1 violation, 2 bad input or unreachable cluster, 3 unknown.",
    )
    parser.add_argument("--config", required=True, help="the cluster's TOML file")
    parser.add_argument("--ops", type=positive_int, default=1000, help="operations in all")
    parser.add_argument("--clients", type=positive_int, default=8, help="client tasks")
    parser.add_argument("--keys", type=positive_int, default=5, help="keys k0..k{K-1}")
    parser.add_argument("--duration", type=positive_float, default=None,
                        help="stop after this many seconds even if ops remain")
    parser.add_argument("--seed", type=int, default=0, help="op mix and nemesis draws")
    parser.add_argument("--nemesis", type=_kinds, default=None, metavar="KINDS",
                        help="kill,pause,partition,net (or none): own the nodes, inject faults")
    parser.add_argument("--out", default=None, help="artifact folder")
    parser.set_defaults(func=run_load)


def _keep_interrupted(config: ClusterConfig, run: LoadRun, out: Path,
                      nemesis: tuple[str, ...] | None) -> None:
    """Ctrl-C: keep the work so far as a whole artifact ``paxlab report`` reads. The history so
    far is checked (operations in flight count as uncertain); no key was read back, so the
    verdict is at best unknown. A second Ctrl-C keeps the history alone."""
    out.mkdir(parents=True, exist_ok=True)
    if run.started_wall:  # else interrupted before the load began: nothing to check
        try:
            result = finish_session(config, run, out, nemesis, tuple(run.nemesis_events),
                                    [f"k{i}" for i in range(run.keys)],
                                    {"interrupted": True, "started_wall": run.started_wall},
                                    check_timeout_s=INTERRUPTED_CHECK_S)
            write_load_artifact(result, config, run)
        except KeyboardInterrupt:
            pass
        else:
            print(f"{_PROG}: interrupted; the run so far ({result.verdict}: "
                  f"{result.summary['check']}) in {out}: paxlab report {out}", file=sys.stderr)
            return
    write_history(out / "history.jsonl", run.recorder.events)
    print(f"{_PROG}: interrupted; history so far in {out / 'history.jsonl'}", file=sys.stderr)


def run_load(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S")
    out = Path(args.out) if args.out else config.path.parent / "runs" / f"load-{stamp}"
    nemesis = "off" if args.nemesis is None else (",".join(args.nemesis) or "none")
    print(f"paxlab load: cluster={config.cluster_id} ops={args.ops} clients={args.clients} "
          f"keys={args.keys} duration={args.duration} seed={args.seed} nemesis={nemesis}",
          file=sys.stderr)
    run = LoadRun(ops=args.ops, clients=args.clients, keys=args.keys,
                  duration_s=args.duration or 0.0, seed=args.seed)
    try:
        result = trio.run(run_session, config, run, out, args.nemesis)
    except ClusterUnavailable as exc:
        print(f"{_PROG}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BaseException as exc:  # Ctrl-C arrives alone or in a group from the nurseries
        if not interrupted_by_ctrl_c(exc):
            raise
        _keep_interrupted(config, run, out, args.nemesis)
        return EXIT_INTERRUPTED
    write_load_artifact(result, config, run)  # the manifest paxlab report reads
    s = result.summary
    lat = s["write_latency_ms"]
    print(json.dumps({k: s[k] for k in ("counts", "elapsed_s", "acked_writes_per_s",
                                         "ops_per_s", "latency_ms", "write_latency_ms",
                                         "faults")}, indent=None))
    print(f"acknowledged writes/s {s['acked_writes_per_s']}  write latency ms p50 {lat['p50']} "
          f"p99 {lat['p99']} p99.9 {lat['p99.9']} max {lat['max']}")
    if result.verdict == "linearizable":
        print(f"PASSED: linearizable ({s['check']}); artifacts {result.out_dir}")
        return EXIT_OK
    if result.verdict == "violation":
        print(f"VIOLATION S8: {s['check']}; artifacts {result.out_dir}")
        return EXIT_VIOLATION
    print(f"UNKNOWN: {s['check']} final_reads_failed={s['final_reads_failed']}; "
          f"artifacts {result.out_dir}")
    return EXIT_UNKNOWN
