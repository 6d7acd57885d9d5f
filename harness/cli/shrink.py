"""``paxlab shrink ARTIFACT [-o OUT] [--max-runs N]``: minimise a failure artifact.

Replays the artifact, shrinks its choice list while the same property (`Violation.property`)
still fails (see `harness.failures.shrink`; first the workload and fault set, unless
``--keep-options``), writes the smallest failing run as a new artifact (default
``<ARTIFACT>-shrunk``) and prints choices, decisions (non-zero choices), steps and operations
before and after. Progress goes to stderr, on one line rewritten in place on a terminal.

If the replay's fingerprint differs from the artifact's (the code changed since, or a
determinism bug) but the run still violates the property, a one-line warning goes to stderr
and the shrink goes on: the new artifact is consistent with the current code.

Ctrl-C stops the search: the smallest failing run found so far is written as the shrunk
artifact (one more run, to keep its trace), and the command exits 130.

Exit codes: 0 the shrunk artifact was written (it violates the same property, by
construction), 2 bad input (missing or corrupt artifact, an artifact without a violation,
one whose replay no longer violates the property, bad flags, an ``-o`` that cannot be a
folder: checked before any run), 130 interrupted (what was found so far is written). Like
``paxlab report``, this command makes files from an artifact; the commands that judge a
run (run, sweep, replay) use 1 for a violation.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from harness.cli import EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, check_output_dir
from harness.cli.protocol_option import add_protocol_option, check_artifact_protocol
from harness.cli.replay import mismatch_cause
from harness.failures import sweep as sweep_lib
from harness.failures.artifact import (
    ArtifactError,
    describe_violation,
    read_artifact,
    write_artifact,
)
from harness.failures.shrink import shrink_run, trim_zeros
from harness.sim.runspec import RunResult


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("shrink", help="minimise a failure artifact's choice list")
    parser.add_argument("artifact", help="artifact folder")
    parser.add_argument("-o", "--out", type=Path, default=None,
                        help="folder for the shrunk artifact (default: ARTIFACT-shrunk)")
    parser.add_argument("--max-runs", type=int, default=500,
                        help="run budget of the search (default: 500)")
    parser.add_argument("--keep-options", action="store_true",
                        help="shrink only the choice list, not the workload and fault set")
    add_protocol_option(parser, from_artifact=True)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show library log warnings and errors (injected faults)")
    parser.set_defaults(func=_main)


class _Progress:
    """Progress on stderr: one line rewritten in place on a terminal, else a line at most
    every ``interval_s`` seconds (a log file gets a readable record, not one line per run)."""

    def __init__(self, max_runs: int, interval_s: float = 1.0) -> None:
        self._max_runs = max_runs
        self._interval_s = interval_s
        self._last = time.monotonic()
        self._tty = sys.stderr.isatty()
        self._shown = False

    def __call__(self, runs: int, current: tuple[int, ...]) -> None:
        now = time.monotonic()
        if now - self._last < (0.1 if self._tty else self._interval_s):
            return
        self._last = now
        line = f"shrink: {runs}/{self._max_runs} runs, now {_counts(current)}"
        if self._tty:
            print(f"\r\x1b[K{line}", end="", file=sys.stderr, flush=True)
            self._shown = True
        else:
            print(line, file=sys.stderr, flush=True)

    def done(self) -> None:
        """End the in-place line, so what follows starts on a line of its own."""
        if self._shown:
            print(file=sys.stderr, flush=True)


def _error(message: str) -> int:
    print(f"paxlab shrink: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL)
    if args.max_runs < 0:
        return _error(f"--max-runs must be >= 0, got max_runs={args.max_runs}")
    try:
        artifact = read_artifact(args.artifact)
    except ArtifactError as exc:
        return _error(str(exc))
    check_artifact_protocol(args.protocol, artifact.options.protocol)
    if artifact.violation is None:
        return _error(f"{artifact.folder}: the artifact records no violation: nothing to shrink")
    prop = artifact.violation.property
    out = args.out if args.out is not None else Path(f"{str(artifact.folder).rstrip('/')}-shrunk")
    check_output_dir(out, "-o")
    protocol = artifact.options.protocol
    protocol = "" if protocol == "multipaxos" else f"protocol={protocol} "
    print(f"shrink {artifact.folder}: {protocol}seed={artifact.seed} property={prop} "
          f"max_runs={args.max_runs}")

    def check_replay(before: RunResult) -> None:
        if before.fingerprint != artifact.fingerprint:
            print(f"paxlab shrink: warning: fingerprint mismatch: artifact="
                  f"{artifact.fingerprint} replay={before.fingerprint}: "
                  f"{mismatch_cause(artifact)}; {prop} still fails, shrinking that run",
                  file=sys.stderr, flush=True)

    progress = _Progress(args.max_runs)
    try:
        result = shrink_run(
            artifact.options, artifact.choices, prop=prop, max_runs=args.max_runs,
            run=sweep_lib.default_run, progress=progress, on_start=check_replay,
            options_too=not args.keep_options,
        )
    except ValueError as exc:
        return _error(f"{artifact.folder}: the artifact does not reproduce: {exc}")
    finally:
        progress.done()
    shrunk = write_artifact(out, result.after)
    print(f"before: {_figures(result.before)}")
    print(f"after:  {_figures(result.after)}")
    if result.options_changed:
        print(f"options: {result.after.options.describe()}")
    budget = "budget spent" if result.exhausted else "no smaller failing run found"
    if result.interrupted:
        budget = "interrupted: the smallest found so far"
    print(f"runs: {result.runs} ({budget})")
    assert result.after.violation is not None  # shrink_run guarantees it
    print(f"violation: {describe_violation(result.after.violation)}")
    print(f"artifact: {shrunk.folder}")
    print(f"replay:   {shrunk.replay_command()}")
    if result.interrupted:
        print(f"paxlab shrink: interrupted after {result.runs} runs; the smallest failing run "
              f"found so far is in {shrunk.folder}", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def _counts(choices: tuple[int, ...]) -> str:
    """Choices without the trailing zeros (they replay like absent ones) and the decisions
    that matter (non-zero choices); progress and summary count the same way."""
    kept = trim_zeros(choices)
    return f"{len(kept)} choices, {sum(1 for v in kept if v)} decisions"


def _figures(result: RunResult) -> str:
    return f"{_counts(result.choices)}, {result.steps} steps, {result.options.ops} ops"
