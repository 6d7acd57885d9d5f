"""``paxlab check-history FILE --model register|kv [--timeout S] [--html OUT] [--json]``.

Checks a client history (JSON lines or Jepsen EDN, see `harness.checks.history`) for linearizability
(S8) and prints one verdict line: for a violation it names the key, the operation that cannot
be placed and the length of the longest linearizable prefix found.

Exit codes:
    0: linearizable.
    1: violation.
    2: bad input or usage: one line naming the file and line (a missing file too).
    3: unknown: a budget (``--timeout``, ``--max-states``) ran out first.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.checks.history import HistoryError, pair_operations, read_history
from harness.checks.linearizability import (
    DEFAULT_MAX_STATES,
    DEFAULT_TIMEOUT_S,
    check_linearizability,
)
from harness.checks.models import MODELS, get_model
from harness.cli import EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE, EXIT_VIOLATION

_PROG = "paxlab check-history"


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text!r}")
    return value


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check-history",
        help="check a client history for linearizability",
        description="Check a JSON-lines or Jepsen EDN history for linearizability. "
        "Exit 0 linearizable, 1 violation, 2 bad input, 3 unknown (budget ran out).",
    )
    parser.add_argument("file", help="history file (.jsonl or Jepsen .edn lines)")
    parser.add_argument("--model", required=True, choices=sorted(MODELS),
                        help="register (read/write/cas, key null) or kv (get/put/append/cas)")
    parser.add_argument("--timeout", type=_positive_float, default=DEFAULT_TIMEOUT_S,
                        metavar="S",
                        help=f"give up after S seconds (default {DEFAULT_TIMEOUT_S:g})")
    parser.add_argument("--max-states", type=_positive_int, default=DEFAULT_MAX_STATES,
                        metavar="N", help=f"memo entries allowed (default {DEFAULT_MAX_STATES})")
    parser.add_argument("--html", metavar="OUT", help="also write a self-contained HTML report")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=_main)


def _error(message: str) -> int:
    print(f"{_PROG}: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _main(args: argparse.Namespace) -> int:
    path = Path(args.file)
    try:
        events = read_history(path)
    except HistoryError as exc:
        return _error(str(exc))
    except UnicodeDecodeError as exc:
        return _error(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})")
    except OSError as exc:
        return _error(f"{path}: cannot read: {exc.strerror or exc}")
    model = get_model(args.model)
    for event in events:
        if event.f not in model.functions:
            return _error(
                f"{path}:{event.line}: f not accepted by model {model.name}; choose from "
                f"{', '.join(model.functions)}, got f={event.f}"
            )
    ops = pair_operations(events, source=str(path))
    result = check_linearizability(ops, model, timeout_s=args.timeout,
                                   max_states=args.max_states)
    if args.html:
        from harness.failures.htmlreport import linearizability_sections, render_page

        page = render_page(f"Linearizability: {path.name}",
                           linearizability_sections(ops, result, source=str(path)))
        try:
            Path(args.html).write_text(page, encoding="utf-8")
        except OSError as exc:
            return _error(f"{args.html}: cannot write: {exc.strerror or exc}")
    if args.json:
        print(json.dumps(result.to_json(), sort_keys=True))
    else:
        print(result.summary())
    return {"linearizable": EXIT_OK, "violation": EXIT_VIOLATION}.get(result.verdict,
                                                                       EXIT_UNKNOWN)
