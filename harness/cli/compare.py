"""``paxlab compare --scenario S[,S] --protocols P,P [--seeds A:B] [-j N] [--json]``.

A protocol is a registered name or ``NAME:VARIANT`` (one of its deliberately changed
versions, e.g. ``raft:no-check-quorum``), so a protocol can be compared with itself less one
mechanism.

Runs the same scripted fault (`harness.sim.scenario_runs.SCENARIOS`; ``all`` for every one)
with the same seeds on each protocol and prints one table per scenario
(`harness.failures.compare`): unavailability after the fault (p50, p99, max over seeds),
write latency p50/p99, messages per acknowledged write, elections per run, and violations
with the first one's message and the command that repeats that seed. Same seeds and options,
same tables, byte for byte (progress and wall time go to stderr only).

Exit codes: 0 every run passed, 1 any violation (or a run that raised), 2 bad usage (unknown
scenario or protocol, bad seed range or jobs: one line), 3 no violation but some run unknown
(never a pass), 130 Ctrl-C (the tables so far are printed, the current one marked
interrupted).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time

from harness.cli import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNKNOWN,
    EXIT_VIOLATION,
    CliError,
    positive_int,
)
from harness.cli.protocol_option import protocol_spec

DEFAULT_SEEDS = "0:200"
DEFAULT_PROTOCOLS = "multipaxos,raft"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "compare", help="protocols side by side under the same scripted faults"
    )
    parser.add_argument(
        "--scenario", required=True,
        help="comma list of leader-crash, partial-partition, gray-failure, clock-drift, "
             "replica-loss, or all",
    )
    parser.add_argument("--protocols", default=DEFAULT_PROTOCOLS,
                        help=f"comma list of protocols, each NAME or NAME:VARIANT (e.g. "
                             f"raft:no-check-quorum; default {DEFAULT_PROTOCOLS})")
    parser.add_argument("--seeds", default=DEFAULT_SEEDS,
                        help=f"A:B runs seeds A..B-1, N alone 0..N-1 (default {DEFAULT_SEEDS})")
    parser.add_argument("-j", "--jobs", type=positive_int, default=None,
                        help="workers (default: cores; never more than the cores or runs)")
    parser.add_argument("--json", action="store_true", help="print the tables as JSON")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show library log warnings and errors")
    parser.set_defaults(func=_main)


def _words(text: str, what: str) -> list[str]:
    words = [w.strip() for w in text.split(",")]
    if not all(words):
        raise CliError(f"{what} must be a comma list of names, got {text!r}")
    if len(set(words)) != len(words):
        raise CliError(f"{what} names one more than once: {text!r}")
    return words


def _main(args: argparse.Namespace) -> int:
    from harness.failures import compare as compare_lib
    from harness.failures.sweep import SweepError, parse_seed_range
    from harness.sim.scenario_runs import SCENARIOS, split_protocol

    scenarios = list(SCENARIOS) if args.scenario == "all" else _words(args.scenario, "scenario")
    for s in scenarios:
        if s not in SCENARIOS:
            raise CliError(f"unknown scenario {s!r}; choose from {', '.join(SCENARIOS)}, all")
    protocols = _words(args.protocols, "protocols")
    for p in protocols:
        name, variant = split_protocol(p)
        spec = protocol_spec(name)
        if variant is not None and variant not in spec.variants:
            choose = ", ".join(spec.variants) or "none exist"
            raise CliError(f"unknown variant {variant!r} of protocol {name}; choose from "
                           f"{choose}")
    try:
        seeds = parse_seed_range(args.seeds)
    except SweepError as exc:
        raise CliError(str(exc)) from None

    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL)
    print(f"compare: scenarios={','.join(scenarios)} protocols={','.join(protocols)} "
          f"seeds={seeds.start}:{seeds.stop}", file=sys.stderr)
    start = time.monotonic()
    last = [start]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 2.0 or done == total:
            last[0] = now
            print(f"compare: {done}/{total} runs, {now - start:.0f}s", file=sys.stderr)

    def show(table: object) -> None:
        if not args.json:
            print(compare_lib.format_table(table) + "\n", flush=True)  # type: ignore[arg-type]

    tables, interrupted = compare_lib.compare(
        scenarios, protocols, seeds, jobs=args.jobs, run=compare_lib.run_scenario,
        on_table=show, progress=progress,
    )
    if args.json:
        print(json.dumps({"tables": [t.to_json() for t in tables],
                          "interrupted": interrupted}, sort_keys=True))
    if interrupted:
        print("paxlab compare: interrupted: the tables so far are above", file=sys.stderr)
        return EXIT_INTERRUPTED
    if any(t.failed for t in tables):
        return EXIT_VIOLATION
    if any(t.undecided for t in tables):
        return EXIT_UNKNOWN
    return EXIT_OK
