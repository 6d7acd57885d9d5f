"""``paxlab report ARTIFACT [-o OUT]``: write one self-contained HTML page about an artifact.

The page (see `harness.failures.report`) has the run's header, the client operations per process,
for an S8 violation the checker's explanation, and fault and leader/lease timelines from a
replay of the artifact. For an explore artifact (`paxlab explore --out`), the page draws the
schedule as a message-sequence chart and replays it (`harness.failures.report_explore`). For
a load artifact of a real cluster (`paxlab load`), it also prints the report as text: verdict,
figures, the nemesis faults with their times, the operations in doubt
(`harness.failures.report_load`). ``OUT`` defaults to ``ARTIFACT/report.html``.

Exit codes: 0 the page was written, 2 bad input (missing or corrupt artifact, unwritable
``OUT``). Like ``paxlab shrink``, this command makes files from an artifact; whether the run
violated a property is on the page (and ``paxlab replay`` exits 1 for it).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from harness.cli import EXIT_OK, EXIT_USAGE
from harness.cli.protocol_option import add_protocol_option, check_artifact_protocol
from harness.failures import sweep as sweep_lib
from harness.failures.artifact import LOAD_KIND, ArtifactError, artifact_kind, read_artifact
from harness.failures.report import write_report


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("report", help="write an HTML report about an artifact")
    parser.add_argument("artifact", help="artifact folder")
    parser.add_argument("-o", "--out", type=Path, default=None,
                        help="HTML file to write (default: ARTIFACT/report.html)")
    add_protocol_option(parser, from_artifact=True)
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show library log warnings and errors (injected faults)")
    parser.set_defaults(func=_main)


def _main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING if args.verbose else logging.CRITICAL)
    out = args.out if args.out is not None else Path(args.artifact) / "report.html"
    try:
        kind = artifact_kind(args.artifact)
        if kind == LOAD_KIND:
            from harness.failures.report_load import write_load_report

            check_artifact_protocol(args.protocol, "multipaxos")  # a real Multi-Paxos cluster
            path, text = write_load_report(args.artifact, out)
            sys.stdout.write(text)
        elif kind == "explore":
            from harness.failures.report_explore import write_explore_report

            check_artifact_protocol(args.protocol, "multipaxos")
            path = write_explore_report(args.artifact, out)
        else:
            check_artifact_protocol(args.protocol, read_artifact(args.artifact).options.protocol)
            path = write_report(args.artifact, out, run=sweep_lib.default_run)
    except ArtifactError as exc:
        print(f"paxlab report: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        print(f"paxlab report: error: cannot write out={out}: {exc.strerror or exc}",
              file=sys.stderr)
        return EXIT_USAGE
    print(f"report: {path}")
    return EXIT_OK
