"""``python -m harness.tracevalid FILE [--tlc]``: validate an NDJSON trace.

The Init line says which protocol wrote the trace (``"protocol": "raft"``: ``tla/Raft.tla``'s
rules, `raft_validate`; else ``tla/Paxlab.tla``'s, `validate`). Prints ``valid: N lines``
(exit 0) or ``invalid: line N: why`` (exit 1); input that is not a trace (unreadable, not
JSON, no Init line) is reported on one line with exit 2. ``--tlc`` also checks the trace with
TLC against ``tla/Trace.tla`` (``tla/RaftTrace.tla`` for Raft; needs ``TLA2TOOLS_JAR``;
without it, exit 2).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from harness.tla.tracevalid.validate import TraceInputError, validate_lines

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the validator CLI; returns the exit code."""
    parser = _Parser(prog="python -m harness.tracevalid", description=__doc__)
    parser.add_argument("file", help="NDJSON trace (paxlab run --trace-ndjson FILE)")
    parser.add_argument("--tlc", action="store_true", help="also check it with TLC")
    args = parser.parse_args(argv)
    try:
        with open(args.file, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        print(f"tracevalid: error: cannot read {args.file}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        verdict = validate_lines(lines)
    except TraceInputError as exc:
        print(f"tracevalid: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not verdict.ok:
        print(f"invalid: line {verdict.line}: {verdict.reason}")
        return EXIT_INVALID
    print(f"valid: {verdict.lines} lines")
    if args.tlc:
        from harness.tla.tracevalid.raft_tladata import check_raft_with_tlc
        from harness.tla.tracevalid.tladata import TlcUnavailable, check_with_tlc

        init = json.loads(next(x for x in lines if x.strip()))  # validate_lines parsed it
        check = check_raft_with_tlc if init.get("protocol") == "raft" else check_with_tlc

        try:
            ok, detail = check(lines)
        except (TlcUnavailable, RuntimeError, ValueError) as exc:
            print(f"tracevalid: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        print(f"tlc: {'valid' if ok else 'invalid'}: {detail}")
        return EXIT_OK if ok else EXIT_INVALID
    return EXIT_OK
