"""``paxlab run --seed N [...]``: one simulated run with faults, checked; print the verdict.

Prints the seed and options first, then the verdict, the first violated property with its
message, the operation counts (ok, fail, info), simulated and wall time, steps and the
fingerprint, and for a violation the command that repeats the run. ``--json`` prints one
JSON object instead (seed, options, verdict, violation, unknown, ops, info_share, sim_time,
wall_time, steps, fingerprint, unsafe, coverage, probes). ``--hot-key`` puts every client on
one key (20 clients unless ``--clients`` says otherwise): contention for the linearizability
search.
``--trace-ndjson FILE`` also writes one JSON line per protocol action (`harness.tracevalid`;
check it with ``python -m harness.tracevalid FILE``); the run is the same.
JSON object instead (seed, options, verdict, violation, ops, sim_time, wall_time, steps,
fingerprint, unsafe, crash_points). ``--trace-ndjson FILE`` also writes one JSON line per
protocol action (`harness.tracevalid`; check it with ``python -m harness.tracevalid FILE``);
the run is the same.

``--scenario replica-loss [--data-mb N] [--bandwidth-mb-s B] [--log-replicas K]
[--partition-s S] [--variant one-step-swap]`` runs a
named scenario instead (`harness.sim.scenarios`): a storage replica fails for good, the leader
restores the write quorum with a log replica and rebuilds a storage replica; it prints
``quorum_restored_after`` and ``replica_rebuilt_after`` (simulated seconds after the failure).

Exit codes: 0 passed, 1 a property was violated (or the run raised: a bug in the protocol's
replica or the simulator, one line on stderr, the traceback with ``-v``), 2 bad usage
(unknown fault, variant or scenario, negative counts, no storage replica, more log
replicas than storage replicas): one line, no traceback; 3 unknown: no violation was found
but a check could not decide (the linearizability check ran out of its budget), which is
never a pass.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from typing import Any

from harness.cli import (
    EXIT_OK,
    EXIT_UNKNOWN,
    EXIT_USAGE,
    EXIT_VIOLATION,
    CliError,
    interrupted_by_ctrl_c,
)
from harness.cli.protocol_option import add_protocol_option, protocol_spec
from harness.runtime.protocols import OPT_IN_FAULTS
from harness.sim.runspec import DEFAULT_FAULTS, FAULTS, VARIANTS, RunOptions, RunResult
from harness.sim.scenarios import SCENARIOS, ReplicaLossOptions, run_replica_loss


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("run", help="one simulated run under seeded faults")
    parser.add_argument("--seed", type=int, default=0, help="root seed (default 0)")
    parser.add_argument("--replicas", type=int, default=3, help="storage replicas (default 3)")
    parser.add_argument("--ops", type=int, default=1000, help="client operations (default 1000)")
    add_workload_options(parser)
    add_protocol_option(parser)
    parser.add_argument(
        "--faults",
        default=None,
        help=f"comma list from {','.join(FAULTS)} (raft also: "
             f"{','.join(OPT_IN_FAULTS)}), or 'none' (default: the protocol's; "
             f"multipaxos: {','.join(DEFAULT_FAULTS)})",
    )
    parser.add_argument(
        "--unsafe-clocks", action="store_true", help="let clock drift exceed rho (labelled)"
    )
    parser.add_argument(
        "--variant", default=None, help=f"a deliberately broken protocol: {', '.join(VARIANTS)}"
    )
    parser.add_argument(
        "--scenario", default=None, help=f"run a named scenario: {', '.join(SCENARIOS)}"
    )
    parser.add_argument(
        "--data-mb", type=int, default=100, help="scenario: data a rebuild copies (default 100)"
    )
    parser.add_argument(
        "--bandwidth-mb-s", type=float, default=100.0,
        help="scenario: link bandwidth in MB/s (default 100)",
    )
    parser.add_argument(
        "--log-replicas", type=int, default=0,
        help="scenario: log replicas in the initial configuration (default 0)",
    )
    parser.add_argument(
        "--partition-s", type=float, default=0.0,
        help="scenario: isolate the leader this long once healing starts (default 0)",
    )
    parser.add_argument(
        "--trace-ndjson", metavar="FILE", default=None,
        help="write one JSON line per protocol action (python -m harness.tracevalid FILE)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show library warnings on stderr"
    )
    parser.set_defaults(func=_main)


HOT_KEY_CLIENTS = 20


def add_workload_options(parser: argparse.ArgumentParser) -> None:
    """``--clients``, ``--keys`` and ``--hot-key`` (shared with ``paxlab sweep``)."""
    parser.add_argument(
        "--clients", type=int, default=None,
        help=f"concurrent clients (default 5; {HOT_KEY_CLIENTS} with --hot-key)",
    )
    parser.add_argument("--keys", type=int, default=None, help="keys (default 5)")
    parser.add_argument(
        "--hot-key", action="store_true",
        help=f"contention: every client on one key (--keys 1, --clients {HOT_KEY_CLIENTS} "
             "unless given)",
    )


def workload_counts(args: argparse.Namespace) -> tuple[int, int]:
    """(clients, keys) from `add_workload_options` flags; raises ValueError if they clash."""
    defaults = RunOptions()
    if not args.hot_key:
        clients = defaults.clients if args.clients is None else args.clients
        keys = defaults.keys if args.keys is None else args.keys
        return clients, keys
    if args.keys not in (None, 1):
        raise ValueError(f"--hot-key puts every client on one key, got keys={args.keys}")
    return (HOT_KEY_CLIENTS if args.clients is None else args.clients), 1


def fault_options(text: str | None) -> dict[str, Any]:
    """``RunOptions`` keywords for a ``--faults`` flag: none when it was not given (the
    protocol's default faults), else ``faults=`` `parse_faults`."""
    return {} if text is None else {"faults": parse_faults(text)}


def parse_faults(text: str) -> tuple[str, ...]:
    """``"none"`` or ``""`` -> (); else the comma list, blanks dropped (validated by RunOptions)."""
    if text.strip().lower() in ("", "none"):
        return ()
    return tuple(part.strip() for part in text.split(",") if part.strip())


def replay_command(options: RunOptions) -> str:
    """The command line that repeats a run with these options."""
    protocol = [] if options.protocol == "multipaxos" else ["--protocol", options.protocol]
    words = [
        "paxlab",
        "run",
        *protocol,
        "--seed",
        str(options.seed),
        "--replicas",
        str(options.replicas),
        "--ops",
        str(options.ops),
        "--clients",
        str(options.clients),
        "--keys",
        str(options.keys),
        "--faults",
        ",".join(options.faults) or "none",
    ]
    if options.unsafe_clocks:
        words.append("--unsafe-clocks")
    if options.variant:
        words += ["--variant", options.variant]
    return shlex.join(words)


def result_json(result: RunResult) -> dict[str, Any]:
    """The ``--json`` object of a run."""
    return {
        "seed": result.options.seed,
        "options": result.options.to_json(),
        "protocol": result.options.protocol,
        "verdict": result.verdict,
        "violation": None if result.violation is None else result.violation.to_json(),
        "unknown": result.unknown,
        "ops": result.ops,
        "info_share": round(info_share(result.ops), 6),
        "sim_time": result.sim_time_s,
        "wall_time": round(result.wall_time_s, 6),
        "steps": result.steps,
        "fingerprint": result.fingerprint,
        "unsafe": result.unsafe,
        "coverage": result.coverage,
        "probes": result.probes,
        "crash_points": result.crash_points,
    }


def info_share(ops: dict[str, int]) -> float:
    """The share of completed operations whose outcome is in doubt (0.0 with none)."""
    total = sum(ops.values())
    return ops.get("info", 0) / total if total else 0.0


def _print_human(result: RunResult) -> None:
    v = result.violation
    label = " (UNSAFE clocks: drift beyond rho on purpose)" if result.unsafe else ""
    if v is None and result.verdict == "unknown":
        print(f"verdict: UNKNOWN{label} (not a pass: a check could not decide)")
        print(f"unknown: {result.unknown}")
    elif v is None:
        print(f"verdict: PASSED{label}")
    else:
        where = " ".join(
            f"{name}={getattr(v, name)}"
            for name in ("node", "slot", "key")
            if getattr(v, name) is not None
        )
        print(f"verdict: VIOLATION {v.property}{label}")
        print(f"violation: {v.message} (step={v.step} time={v.time_us / 1e6:.6f}s {where})")
    ops = result.ops
    print(f"ops: ok={ops.get('ok', 0)} fail={ops.get('fail', 0)} info={ops.get('info', 0)} "
          f"(info share {info_share(ops):.1%})")
    print(
        f"time: simulated={result.sim_time_s:.3f}s wall={result.wall_time_s:.3f}s "
        f"steps={result.steps}"
    )
    if result.crash_points:
        fired = " ".join(f"{p}={n}" for p, n in result.crash_points.items())
        print(f"crash points: {fired}")
    print(f"fingerprint: {result.fingerprint}")
    if v is not None:
        print(f"replay: {replay_command(result.options)}")


def _scenario_main(args: argparse.Namespace) -> int:
    """``--scenario``: build the scenario's options, run it, print what it measured."""
    if args.scenario not in SCENARIOS:
        print(f"paxlab run: error: unknown scenario {args.scenario!r}; choose from "
              f"{', '.join(SCENARIOS)}", file=sys.stderr)
        return EXIT_USAGE
    try:
        options = ReplicaLossOptions(
            seed=args.seed, replicas=args.replicas, log_replicas=args.log_replicas,
            data_mb=args.data_mb, bandwidth_mb_s=args.bandwidth_mb_s,
            partition_s=args.partition_s, variant=args.variant,
        )
    except ValueError as exc:
        print(f"paxlab run: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL)
    result = run_replica_loss(options)
    # a violated property, or never healing (a liveness violation)
    code = EXIT_OK if result.verdict == "ok" else EXIT_VIOLATION
    if args.json:
        print(json.dumps(result.to_json(), sort_keys=True))
        return code

    def secs(v: float | None) -> str:
        return "never" if v is None else f"{v:.3f}s"

    print(f"paxlab run: scenario={args.scenario} seed={options.seed} "
          f"replicas={options.replicas} log_replicas={options.log_replicas} "
          f"data_mb={options.data_mb} bandwidth_mb_s={options.bandwidth_mb_s}")
    print(f"failed node: {result.failed_node}")
    print(f"quorum_restored_after: {secs(result.quorum_restored_after)} "
          f"(log replica {result.log_replica} copied {result.bytes_to_log_replica} bytes)")
    print(f"replica_rebuilt_after: {secs(result.replica_rebuilt_after)} "
          f"(storage replica {result.new_storage_replica} copied "
          f"{result.bytes_to_new_storage_replica} bytes)")
    if result.violation is not None:
        from harness.failures.artifact import describe_violation

        print(f"verdict: VIOLATION {result.violation.property}")
        print(f"violation: {describe_violation(result.violation)}")
    else:
        print("verdict: PASSED")
    return code


def _main(args: argparse.Namespace) -> int:
    spec = protocol_spec(args.protocol)
    if spec.name not in ("multipaxos", "raft") and args.trace_ndjson:
        raise CliError(f"--trace-ndjson is for Multi-Paxos and Raft only (their TLA+ specs), "
                       f"got --protocol {spec.name}")
    if spec.name != "multipaxos" and args.scenario is not None:
        raise CliError(f"--scenario is Multi-Paxos only (its healing), "
                       f"got --protocol {spec.name}")
    if args.scenario is not None:
        return _scenario_main(args)
    if args.log_replicas:
        print("paxlab run: error: --log-replicas needs --scenario (a run's group is storage "
              f"replicas, plus spares with the permanent fault), got "
              f"log_replicas={args.log_replicas}", file=sys.stderr)
        return EXIT_USAGE
    try:
        clients, keys = workload_counts(args)
        options = RunOptions(
            seed=args.seed,
            replicas=args.replicas,
            ops=args.ops,
            clients=clients,
            keys=keys,
            protocol=spec.name,
            unsafe_clocks=args.unsafe_clocks,
            variant=args.variant,
            **fault_options(args.faults),
        )
    except (ValueError, TypeError) as exc:
        print(f"paxlab run: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from harness.sim import run  # imported here so `paxlab --help` stays fast

    # Injected disk faults make the storage layer log warnings and errors; expected here.
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL)

    if not args.json:
        print(f"paxlab run: {options.describe()}", flush=True)
        if spec.name != "multipaxos":  # Multi-Paxos output stays as it always was
            print(f"checks: {spec.checks_label()}", flush=True)
    if args.trace_ndjson:
        from harness.tla.tracevalid.record import run_to_file

        try:
            result = run_to_file(options, args.trace_ndjson)
        except OSError as exc:
            print(f"paxlab run: error: cannot write the trace: {exc}", file=sys.stderr)
            return EXIT_USAGE
    else:
        try:
            result = run(options, keep_trace=False)
        except Exception as exc:  # a replica (or simulator) bug is a finding: one line, exit 1
            if interrupted_by_ctrl_c(exc):
                raise KeyboardInterrupt from None  # Ctrl-C broke something on its way: 130
            logging.getLogger(__name__).exception("seed=%d raised", options.seed)
            while isinstance(exc, ExceptionGroup) and len(exc.exceptions) == 1:
                exc = exc.exceptions[0]  # trio wraps what a task raised in a group of one
            first = str(exc).splitlines()[0] if str(exc) else ""
            print(f"paxlab run: error: the run raised {type(exc).__name__}: {first} (a bug "
                  f"in protocol {options.protocol} or the simulator; -v shows the traceback)",
                  file=sys.stderr)
            return EXIT_VIOLATION
    if args.json:
        data = result_json(result)
        data["checks"] = spec.checks_label()
        print(json.dumps(data, sort_keys=True))
    else:
        _print_human(result)
    return exit_code(result)


def exit_code(result: RunResult) -> int:
    """0 passed, 1 a violation, 3 unknown (a check could not decide: never a pass)."""
    if result.violation is not None:
        return EXIT_VIOLATION
    return EXIT_UNKNOWN if result.verdict == "unknown" else EXIT_OK
