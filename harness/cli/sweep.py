"""``paxlab sweep [--seeds A:B]``: run many seeds in parallel, group failures, write artifacts.

Prints the sweep's options first, progress on stderr (at most about once a second), then
a summary: seeds run, passed, failed, unknown, and each failure signature with its seeds, one
artifact folder and its replay command; then the seeds whose verdict is unknown (no violation,
but a check could not decide), with why. ``--json`` prints the summary as one JSON object
instead.

Budgets: ``--time S`` starts no seed after S seconds, ``--max-failures N`` none after N
distinct failure signatures; a sweep stopped by either, or by Ctrl-C, prints its summary so
far (naming the seeds that ran and why it stopped) and keeps its artifacts. ``-j`` is capped
at the seeds and the cores (the header says so).

Exit 0 every seed passed, 1 any failure (a violation or a run that raised), 2 bad usage
(checked before any run, the ``--out`` folder too), 3 no failure but some seed unknown (never
a pass), 130 interrupted (Ctrl-C; the summary so far is printed).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

import attrs

from consensus.probes import PROBES
from harness.cli import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNKNOWN,
    EXIT_USAGE,
    EXIT_VIOLATION,
    check_output_dir,
)
from harness.cli.protocol_option import add_protocol_option, protocol_spec
from harness.cli.run import add_workload_options, fault_options, workload_counts
from harness.failures import sweep as sweep_lib
from harness.failures.sweep import (
    SweepError,
    SweepProgress,
    SweepSummary,
    parse_executor,
    parse_seed_range,
    run_command,
    useful_jobs,
)
from harness.runtime.protocols import OPT_IN_FAULTS
from harness.sim.coverage import info_share
from harness.sim.runspec import DEFAULT_FAULTS, FAULTS, VARIANTS, RunOptions

_MAX_SEEDS_SHOWN = 12


# The README's main job is `paxlab sweep` with no options: 100 seeds of the default run.
DEFAULT_SEEDS = "0:100"

def add_run_options(parser: argparse.ArgumentParser) -> None:
    """Add the run options shared with ``paxlab run`` (all but ``--seed``)."""
    defaults = RunOptions()
    parser.add_argument("--replicas", type=int, default=defaults.replicas)
    parser.add_argument("--ops", type=int, default=defaults.ops)
    add_workload_options(parser)
    add_protocol_option(parser)
    parser.add_argument(
        "--faults", default=None,
        help=f"comma list from {','.join(FAULTS)} (raft also: "
             f"{','.join(OPT_IN_FAULTS)}), or none (default: the protocol's; "
             f"multipaxos: {','.join(DEFAULT_FAULTS)})",
    )
    parser.add_argument("--unsafe-clocks", action="store_true")
    parser.add_argument("--variant", default=None, help=f"one of {', '.join(VARIANTS)}")


def options_from_args(args: argparse.Namespace) -> RunOptions:
    """Build `RunOptions` (seed 0) from `add_run_options` flags; raises ValueError if bad
    (`harness.cli.CliError` for a protocol that is unknown or not in this tree)."""
    # Passed as a dict: mypy's attrs plugin cannot type the converter=tuple field.
    fields: dict[str, Any] = fault_options(args.faults)
    clients, keys = workload_counts(args)
    spec = protocol_spec(args.protocol)
    return RunOptions(
        replicas=args.replicas, ops=args.ops, clients=clients, keys=keys, protocol=spec.name,
        unsafe_clocks=args.unsafe_clocks, variant=args.variant, **fields,
    )


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("sweep", help="run a range of seeds and group the failures")
    parser.add_argument(
        "--seeds",
        default=DEFAULT_SEEDS,
        help=f"A:B runs seeds A..B-1 (or N alone: 0..N-1; default {DEFAULT_SEEDS})",
    )
    parser.add_argument("-j", "--jobs", type=int, default=None,
                        help="workers (default: cores; never more than the cores or seeds)")
    parser.add_argument("--time", type=float, default=None, metavar="S",
                        help="start no seed after S seconds; print the summary so far")
    parser.add_argument("--max-failures", type=int, default=None, metavar="N",
                        help="stop after N distinct failure signatures")
    parser.add_argument("--executor", default="local", help="local or dask://HOST:PORT")
    parser.add_argument("--out", type=Path, default=Path("artifacts"),
                        help="artifact folder root (default: artifacts)")
    add_run_options(parser)
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show library log warnings and errors (injected faults)")
    parser.set_defaults(func=_main)


class ProgressPrinter:
    """Writes a progress line to ``stream`` at most every ``interval_s`` and at the end."""

    def __init__(self, stream: TextIO, interval_s: float = 1.0) -> None:
        self._stream = stream
        self._interval_s = interval_s
        self._last = time.monotonic()

    def __call__(self, p: SweepProgress) -> None:
        now = time.monotonic()
        if p.done < p.total and now - self._last < self._interval_s:
            return
        self._last = now
        eta = "?" if p.eta_s is None else _duration(p.eta_s)
        self._stream.write(
            f"sweep: {p.done}/{p.total} done, {p.runs_per_s:.1f} runs/s, "
            f"{p.failed} failed, eta {eta}\n"
        )
        self._stream.flush()


def _duration(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def _main(args: argparse.Namespace) -> int:
    try:
        seeds = parse_seed_range(args.seeds)
        if args.jobs is not None and args.jobs < 1:
            raise SweepError(f"jobs must be >= 1, got jobs={args.jobs}")
        if args.time is not None and not 0 < args.time < float("inf"):
            raise SweepError(f"time must be a number of seconds > 0, got time={args.time}")
        if args.max_failures is not None and args.max_failures < 1:
            raise SweepError(f"max-failures must be >= 1, got max_failures={args.max_failures}")
        parse_executor(args.executor)
        options = options_from_args(args)
    except (ValueError, TypeError) as exc:
        print(f"paxlab sweep: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    check_output_dir(args.out, "--out")
    # Workers inherit this (forked after it). Without it, the logs of injected faults (the
    # storage layer logs an injected fsync failure as an error) would bury the progress
    # lines; a run that really breaks shows up as an "error" outcome in the summary anyway.
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL)
    if not args.json:
        print(_header(options, seeds, args))
        if options.protocol != "multipaxos":  # Multi-Paxos output stays as it was
            print(f"checks: {protocol_spec(options.protocol).checks_label()}")
    try:
        summary = sweep_lib.sweep(
            options, seeds, jobs=args.jobs, executor=args.executor, out=args.out,
            run=sweep_lib.default_run,  # looked up per call: tests substitute a fake run
            progress=ProgressPrinter(sys.stderr), time_s=args.time,
            max_failures=args.max_failures,
        )
    except SweepError as exc:
        print(f"paxlab sweep: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:  # a second Ctrl-C while stopping
        print("paxlab sweep: interrupted (artifacts written so far are kept)", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps(summary.to_json()))
    else:
        print(format_summary(summary))
    if summary.stopped == "interrupted":
        print("paxlab sweep: interrupted (artifacts written so far are kept)", file=sys.stderr)
        return EXIT_INTERRUPTED
    return exit_code(summary)


def exit_code(summary: SweepSummary) -> int:
    """1 if any seed failed, else 3 if any seed is unknown (never a pass), else 0."""
    if summary.failed:
        return EXIT_VIOLATION
    return EXIT_UNKNOWN if summary.unknown else EXIT_OK


def _header(options: RunOptions, seeds: range, args: argparse.Namespace) -> str:
    faults = ",".join(options.faults) or "none"
    if args.executor != "local":
        jobs = "cluster"
    else:
        jobs = str(useful_jobs(args.jobs, len(seeds)))
        if args.jobs is not None and args.jobs > int(jobs):
            jobs += f" (capped from {args.jobs}: {len(seeds)} seeds, {os.cpu_count()} cores)"
    budget = ""
    if args.time is not None:
        budget += f" time={args.time:g}s"
    if args.max_failures is not None:
        budget += f" max_failures={args.max_failures}"
    protocol = "" if options.protocol == "multipaxos" else f" protocol={options.protocol}"
    return (
        f"sweep{protocol} seeds={seeds.start}:{seeds.stop} ({len(seeds)} seeds) "
        f"replicas={options.replicas} ops={options.ops} clients={options.clients} "
        f"keys={options.keys} faults={faults} unsafe_clocks={options.unsafe_clocks} "
        f"variant={options.variant} jobs={jobs} executor={args.executor}{budget}"
    )


_STOP_TEXT = {
    "time": "the --time budget ran out",
    "max-failures": "--max-failures distinct failure signatures found",
    "interrupted": "interrupted by Ctrl-C",
}

def _counts(counts: dict[str, int]) -> str:
    return " ".join(f"{k}={v}" for k, v in counts.items() if v) or "none"


def format_coverage(summary: SweepSummary) -> list[str]:
    """Lines saying what the sweep exercised, summed, and which probes never fired (none if
    the runs report no coverage)."""
    c = summary.coverage()
    if not c:
        return []
    lines = [
        f"coverage: leader changes {c['leader_changes']}, partitions "
        f"{_counts(c['partitions'])}, crashes {c['crashes']} (fail-stops {c['fail_stops']}, "
        f"permanent {c['permanent_failures']}), pauses {c['pauses']}, clock steps "
        f"{c['clock_steps']}, lossy periods {c['lossy_periods']}",
        f"  stale-leader lease ticks {c['stale_leader_lease_ticks']}, info ops {c['info_ops']} "
        f"of {c.get('ops_completed', 0)} ({info_share(c):.1%}; client crashes "
        f"{c['client_crashes']}), failed cas checked as reads "
        f"{c['cas_observed']}, log-replica reads refused {c['log_reads_refused']}/"
        f"{c['log_reads_sent']}",
        f"  catch-ups {c['catch_ups']}, snapshot installs {c['snapshot_installs']}, replicas "
        f"added log={c['log_replicas_added']} storage={c['storage_replicas_added']}, disk "
        f"faults {_counts(c['disk_faults'])}",
    ]
    targeted = ("adversarial_periods", "replays", "handovers", "strikes")
    if any(c.get(k) for k in targeted):
        lines.append(
            f"  adversarial periods {c['adversarial_periods']}, message replays "
            f"{c['replays']}, handovers {c['handovers']}, strikes on pending membership "
            f"changes {c['strikes']}"
        )
    if c.get("reconfigure_requests"):  # the membership fault (Raft): asked, then what happened
        lines.append(
            f"  membership changes asked {c['reconfigure_requests']}, configuration entries "
            f"proposed {c.get('config_changes_proposed', 0)}, committed "
            f"{c.get('config_changes_committed', 0)}"
        )
    if summary.options.protocol != "multipaxos":  # `consensus.probes` are Multi-Paxos's
        lines.append(f"probes: none declared by protocol {summary.options.protocol}")
        return lines
    never = summary.probes_never_fired()
    total = len(PROBES)
    if never:
        lines.append(f"probes never fired ({len(never)} of {total}): {', '.join(never)}")
    else:
        lines.append(f"probes never fired: none (all {total} fired)")
    return lines


def format_summary(summary: SweepSummary) -> str:
    """Return the human summary: counts, then each failure group with artifact and replay."""
    lines = [
        f"seeds run: {len(summary.outcomes)}, passed: {summary.passed}, "
        f"failed: {summary.failed}, unknown: {summary.unknown} "
        f"({summary.wall_time_s:.1f}s, {summary.runs_per_s:.1f} runs/s)"
    ]
    lines += format_coverage(summary)
    if summary.stopped is not None:
        ran = ", ".join(str(o.seed) for o in summary.outcomes[:_MAX_SEEDS_SHOWN])
        if len(summary.outcomes) > _MAX_SEEDS_SHOWN:
            ran += ", ..."
        lines.append(f"STOPPED ({_STOP_TEXT[summary.stopped]}): {len(summary.outcomes)} of "
                     f"{len(summary.seeds)} seeds ran ({ran or 'none'}); the others did not")
    if not summary.failed and not summary.unknown:
        lines.append("PASSED" if summary.stopped is None else "PASSED (the seeds that ran)")
        return "\n".join(lines)
    if summary.failed:
        lines.append(f"FAILED: {summary.failed} seeds in {len(summary.groups)} signature(s)")
    for group in summary.groups:
        shown = ", ".join(str(s) for s in group.seeds[:_MAX_SEEDS_SHOWN])
        if len(group.seeds) > _MAX_SEEDS_SHOWN:
            shown += f", ... ({len(group.seeds) - _MAX_SEEDS_SHOWN} more)"
        lines.append(f"  {group.signature}  {len(group.seeds)} seed(s): {shown}")
        lines.append(f"    e.g. seed {group.seeds[0]}: {group.example}")
        if group.artifact is not None:
            lines.append(f"    artifact: {group.artifact}")
        lines.append(f"    replay:   {group.replay_command}")
    undecided = [o for o in summary.outcomes if o.undecided]
    if undecided:
        shown = ", ".join(str(o.seed) for o in undecided[:_MAX_SEEDS_SHOWN])
        if len(undecided) > _MAX_SEEDS_SHOWN:
            shown += f", ... ({len(undecided) - _MAX_SEEDS_SHOWN} more)"
        first = undecided[0]
        lines.append(f"UNKNOWN (not passed): {len(undecided)} seed(s) a check could not decide: "
                     f"{shown}")
        lines.append(f"    e.g. seed {first.seed}: {first.unknown}")
        lines.append(f"    rerun:    {run_command(attrs.evolve(summary.options, seed=first.seed))}")
    mismatched = [o.seed for o in summary.outcomes if o.replay_mismatch]
    if mismatched:
        lines.append(
            "NONDETERMINISM: replaying the choices of seed(s) "
            f"{', '.join(map(str, mismatched))} changed the fingerprint"
        )
    return "\n".join(lines)
