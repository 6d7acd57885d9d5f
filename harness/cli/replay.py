"""``paxlab replay ARTIFACT [--until STEP] [--trace]``: re-run a failure artifact exactly.

The run repeats with the artifact's options and choice list, and its fingerprint is compared
with the one recorded. Prints the artifact's seed and options, the event trace if asked
(``--until STEP``: only steps 1..STEP; the run itself still runs to its end, so the
fingerprint stays comparable), then the verdict, the violation, and the fingerprint check.

The replay is checked against what the artifact records: the violated property, its place
(step, time, node, slot, key) and the fingerprint. An explore artifact's schedule runs in the
simulator's host loop (`harness.failures.explore_replay`) and is checked against the host-loop
replay recorded when it was written.

Exit codes:
    0: PASSED: the artifact records no violation, and the replay repeats it exactly.
    1: REPRODUCED: the replay violated the recorded property at the recorded place with the
       recorded fingerprint; or NOT REPRODUCED: any of these differ (the line names what;
       a fingerprint mismatch also gets a line on stderr with its likely cause:
       nondeterminism, or the code changed since the artifact was written).
    2: bad input (missing or corrupt artifact, bad flags).
"""

from __future__ import annotations

import argparse
import logging
import sys

from harness.checks.violation import Violation
from harness.cli import EXIT_OK, EXIT_USAGE, EXIT_VIOLATION
from harness.cli.protocol_option import add_protocol_option, check_artifact_protocol
from harness.failures import sweep as sweep_lib
from harness.failures.artifact import (
    Artifact,
    ArtifactError,
    describe_violation,
    is_explore_artifact,
    read_artifact,
    versions,
    violation_differences,
)
from harness.sim.runspec import RunResult


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("replay", help="re-run a failure artifact exactly")
    parser.add_argument("artifact", help="artifact folder (from paxlab sweep or shrink)")
    parser.add_argument("--until", type=int, default=None, metavar="STEP",
                        help="print the trace only up to this step")
    parser.add_argument("--trace", action="store_true", help="print the event trace")
    add_protocol_option(parser, from_artifact=True)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show library log warnings and errors (injected faults)")
    parser.set_defaults(func=_main)


def describe(artifact: Artifact) -> str:
    """Return one line naming the artifact's seed, options and choice list."""
    o = artifact.options
    protocol = "" if o.protocol == "multipaxos" else f"protocol={o.protocol} "
    return (
        f"replay {artifact.folder}: {protocol}seed={o.seed} replicas={o.replicas} ops={o.ops} "
        f"clients={o.clients} keys={o.keys} faults={','.join(o.faults) or 'none'} "
        f"unsafe_clocks={o.unsafe_clocks} variant={o.variant} "
        f"choices={len(artifact.choices)} ({artifact.nonzero_choices} non-zero) "
        f"steps={artifact.steps}"
    )


def _main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL)
    if args.until is not None and args.until < 1:
        print(f"paxlab replay: error: --until must be >= 1, got until={args.until}",
              file=sys.stderr)
        return EXIT_USAGE
    if is_explore_artifact(args.artifact):
        return _replay_explore(args.artifact, args.protocol)
    try:
        artifact = read_artifact(args.artifact)
    except ArtifactError as exc:
        print(f"paxlab replay: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    check_artifact_protocol(args.protocol, artifact.options.protocol)
    print(describe(artifact))
    if artifact.unsafe:
        print("label: UNSAFE (clock drift beyond rho on purpose; S6/S8 violations expected)")
    result = sweep_lib.default_run(
        artifact.options, replay=artifact.choices, replay_labels=artifact.labels or None,
        keep_trace=args.trace or args.until is not None,
        trace_until=args.until,
    )
    if args.trace or args.until is not None:
        lines = result.trace if args.until is None else result.trace[: args.until]
        for line in lines:
            print(line)
    return _report(artifact, result, args.until)


def _replay_explore(folder: str, protocol: str | None) -> int:
    """Re-run an explore schedule in the explorer (its fingerprint, the violation's property
    and place are checked against the artifact) and in the simulator's host loop (which
    must find the same property). Explore artifacts are Multi-Paxos schedules."""
    from harness.failures.explore_artifact import explore_fingerprint, read_explore_record
    from harness.failures.explore_replay import replay_actions

    check_artifact_protocol(protocol, "multipaxos")
    try:
        record = read_explore_record(folder)
        fingerprint, found = explore_fingerprint(record.bounds, list(record.actions))
        outcome = replay_actions(record.bounds, record.actions)
    except ValueError as exc:
        print(f"paxlab replay: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"replay {folder}: explore schedule of {len(record.actions)} steps, in the "
          f"explorer and in the trio host loop ({outcome.steps} host steps)")
    if outcome.violation is None:
        print("verdict: ok (no violation)")
    else:
        print(f"verdict: violation {describe_violation(outcome.violation)}")
    diffs = violation_differences(record.violation, found)
    if record.fingerprint is None:
        print("fingerprint: none recorded (a version 1 artifact): not checked")
    elif fingerprint != record.fingerprint:
        diffs.append(f"fingerprint: artifact={record.fingerprint} replay={fingerprint}")
    else:
        print(f"fingerprint: {fingerprint} (matches the artifact)")
    expected = None if record.violation is None else record.violation.property
    got = None if outcome.violation is None else outcome.violation.property
    if expected != got:
        diffs.append(f"host loop: artifact={expected or 'no violation'} "
                     f"replay={got or 'no violation'}")
    return verdict_line(record.violation, found, diffs)


def _report(artifact: Artifact, result: RunResult, until: int | None) -> int:
    if result.violation is None:
        print("verdict: ok (no violation)")
    else:
        print(f"verdict: violation {describe_violation(result.violation)}")
    ops = " ".join(f"{k}={v}" for k, v in result.ops.items())
    print(f"ops: {ops}; steps={result.steps} sim_time={result.sim_time_s:.3f}s "
          f"wall_time={result.wall_time_s:.3f}s")
    if until is not None and result.violation is not None and result.violation.step > until:
        print(f"note: the violation is at step {result.violation.step}, after --until {until}")
    diffs = violation_differences(artifact.violation, result.violation)
    if result.fingerprint != artifact.fingerprint:
        print(f"paxlab replay: fingerprint mismatch: artifact={artifact.fingerprint} "
              f"replay={result.fingerprint}: {mismatch_cause(artifact)}", file=sys.stderr)
        diffs.append(f"fingerprint: artifact={artifact.fingerprint} "
                     f"replay={result.fingerprint}")
    else:
        print(f"fingerprint: {result.fingerprint} (matches the artifact)")
    return verdict_line(artifact.violation, result.violation, diffs)


def verdict_line(recorded: Violation | None, replayed: Violation | None,
                 diffs: list[str]) -> int:
    """Print the replay's verdict against what the artifact records; return the exit code.

    REPRODUCED (the same property at the same place, the same fingerprint): exit 1 for a
    violation; PASSED when the artifact records none either: exit 0; NOT REPRODUCED with
    what differs: exit 1 (a replay that does not repeat the artifact is no pass).
    """
    if diffs:
        print(f"NOT REPRODUCED: {'; '.join(diffs)}")
        return EXIT_VIOLATION
    if replayed is None:
        print("PASSED (as the artifact records)")
        return EXIT_OK
    print(f"REPRODUCED {replayed.property}")
    return EXIT_VIOLATION


def mismatch_cause(artifact: Artifact) -> str:
    """Say why a replay may not have repeated the artifact's run, from the versions."""
    now = versions()
    changed = [
        f"{name} {artifact.versions.get(name, '?')} -> {now[name]}"
        for name in sorted(now)
        if artifact.versions.get(name) != now[name]
    ]
    if changed:
        return "the run did not repeat: the code changed since the artifact (" + (
            ", ".join(changed) + ")")
    return ("the run did not repeat with the same code and versions: a determinism bug "
            "(set order, hash(), wall time, an unseeded random?)")
