"""``paxlab check-history FILE --model M [--initial V] [--nil-read absent|unknown]
[--independent] [--timeout S] [--html OUT] [--json]``.

Checks a client history (JSON lines or Jepsen/Knossos EDN, see `harness.checks.history`) for
linearizability (S8) against one of the models (register, kv, mutex, set, multi-register)
and prints one verdict line: for a violation it names the key, the operation that cannot be
placed and the length of the longest linearizable prefix found. ``--initial`` and
``--nil-read`` state the convention the history follows; docs/histories.md names the
convention of each well-known source.

Exit codes:
    0: linearizable.
    1: violation.
    2: bad input or usage: one line naming the file and line (a missing file too). A history
       with no client operation is refused too: it proves nothing, and a wrong path or a
       history of nemesis events only must not pass silently.
    3: unknown: a budget (``--timeout``, ``--max-states``) ran out first.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from harness.checks.catalog import MODELS
from harness.checks.history import HistoryError
from harness.checks.linearizability import (
    DEFAULT_MAX_STATES,
    DEFAULT_TIMEOUT_S,
    check_linearizability,
)
from harness.checks.models import NIL_READS
from harness.checks.prepare import prepare_history
from harness.cli import (
    EXIT_OK,
    EXIT_UNKNOWN,
    EXIT_USAGE,
    EXIT_VIOLATION,
    positive_float,
    positive_int,
)

_PROG = "paxlab check-history"




def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "check-history",
        help="check a client history for linearizability",
        description="Check a recorded history (JSON lines, Jepsen/Knossos/Porcupine EDN, "
        "or a Jepsen console log) for linearizability, under the convention its source "
        "follows (--initial, --nil-read, --independent; see docs/histories.md). Exit 0 "
        "linearizable, 1 violation, 2 bad input (an empty history too), 3 unknown (budget "
        "ran out).",
    )
    parser.add_argument("file", help="history file: JSON lines, Jepsen/Knossos EDN, or a "
                        "Jepsen console log (docs/histories.md)")
    parser.add_argument("--model", required=True, choices=sorted(MODELS),
                        help="register (read/write/cas), kv (get/put/append/cas), mutex "
                        "(acquire/release), set (add/read), multi-register (txn)")
    parser.add_argument("--initial", metavar="VALUE",
                        help="the value every register/key starts with, JSON or EDN "
                        "(default nil: absent); e.g. 0, '\"\"' (Porcupine kv), "
                        "'{:x 0 :y 0}' (multi-register), '[]' (set)")
    parser.add_argument("--nil-read", choices=NIL_READS,
                        help="what an ok read of nil means: absent (default) or unknown "
                        "(Knossos: the read constrains nothing)")
    parser.add_argument("--independent", action=argparse.BooleanOptionalAction,
                        help="values are Jepsen independent [key value] tuples: check "
                        "each key as its own object (default: a history that looks "
                        "independent is refused)")
    parser.add_argument("--timeout", type=positive_float, default=DEFAULT_TIMEOUT_S,
                        metavar="S",
                        help=f"give up after S seconds (default {DEFAULT_TIMEOUT_S:g})")
    parser.add_argument("--max-states", type=positive_int, default=DEFAULT_MAX_STATES,
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
        prepared = prepare_history(path, args.model, initial=args.initial,
                                   nil_read=args.nil_read, independent=args.independent)
    except HistoryError as exc:
        return _error(str(exc))
    except UnicodeDecodeError as exc:
        return _error(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})")
    except ValueError as exc:  # a bad option value (HistoryError is handled above)
        return _error(f"--initial/--nil-read/--independent: {exc}")
    except OSError as exc:
        return _error(f"{path}: cannot read: {exc.strerror or exc}")
    model, ops = prepared.model, prepared.ops
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
