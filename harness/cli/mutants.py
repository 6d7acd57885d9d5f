"""``paxlab mutants``: the mutation campaign (planted bugs; how many paxlab's checks find).

Runs every mutant of `harness.failures.mutant_catalogue` (or ``--only NAME[,NAME]``) in a
temporary copy of the source tree, each within ``--budget`` wall seconds (see
`harness.failures.mutants`), with a progress line per mutant on stderr; then prints the table
(mutant, verdict, time to kill, property, target, shrunk size) and the kill rate, or with
``--json`` one JSON object. ``--list`` prints the catalogue and runs nothing.

Exit 0 when every mutant run was killed or is an argued equivalent, 1 when one survived (a
gap in the checks) or did not run, 2 bad usage (one line), 130 on Ctrl-C (the table so far is
printed first).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys

from harness.cli import EXIT_OK, EXIT_USAGE, EXIT_VIOLATION
from harness.failures import mutants as lib
from harness.failures.mutant_catalogue import CATALOGUE, Mutant

EXIT_INTERRUPTED = 130


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("mutants", help="mutation campaign: planted bugs, kill rate")
    p.add_argument("--only", default=None, metavar="NAME[,NAME]", help="run only these mutants")
    p.add_argument("--budget", type=float, default=60.0, metavar="S",
                   help="wall seconds per mutant (default 60)")
    p.add_argument("-j", "--jobs", type=int, default=2, help="sweep workers (default 2)")
    p.add_argument("--no-shrink", action="store_true", help="do not shrink what was found")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--list", action="store_true", help="print the catalogue and exit")
    p.set_defaults(func=_main)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _error(message: str) -> int:
    print(f"paxlab mutants: error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _main(args: argparse.Namespace) -> int:
    if not args.budget > 0:
        return _error(f"--budget must be > 0 seconds, got budget={args.budget}")
    if args.jobs < 1:
        return _error(f"-j must be >= 1, got jobs={args.jobs}")
    try:
        chosen = lib.select(args.only)
    except lib.MutantError as exc:
        return _error(str(exc))
    if args.list:
        _print_list(chosen, args.json)
        return EXIT_OK
    problems = lib.check_catalogue(chosen)
    if problems:
        return _error(f"catalogue does not match the source tree: {problems[0]}")
    results: list[lib.MutantResult] = []
    interrupted = False
    # A SIGTERM ends the campaign like Ctrl-C: the running mutant's processes are killed,
    # its temporary copy removed, and the table so far printed.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        for i, result in enumerate(
            lib.campaign(chosen, budget_s=args.budget, jobs=args.jobs,
                         shrink=not args.no_shrink), start=1,
        ):
            results.append(result)
            took = "" if result.time_to_kill_s is None else f" in {result.time_to_kill_s:.1f}s"
            print(f"mutants: {i}/{len(chosen)} {result.name}: {result.status}{took} "
                  f"{result.property or ''} ({result.detail[:100]})", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print(f"paxlab mutants: interrupted after {len(results)} of {len(chosen)} mutants",
              file=sys.stderr)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if args.json:
        print(json.dumps({
            "budget_s": args.budget, "jobs": args.jobs, "run": len(results),
            "planned": len(chosen), "interrupted": interrupted,
            "kill_rate": round(lib.kill_rate(results), 4),
            "mutation_score": round(lib.mutation_score(results), 4),
            "results": [r.to_json() for r in results],
        }))
    else:
        print(lib.format_table(results, chosen, budget_s=args.budget))
    if interrupted:
        return EXIT_INTERRUPTED
    ok = all(r.killed or r.status == "equivalent" for r in results)
    return EXIT_OK if ok else EXIT_VIOLATION


def _print_list(chosen: list[Mutant], as_json: bool) -> None:
    if as_json:
        print(json.dumps([{"name": m.name, "file": m.file, "target": m.target, "why": m.why,
                           "equivalent": m.equivalent} for m in chosen]))
        return
    width = max(len(m.name) for m in CATALOGUE)
    for m in chosen:
        print(f"{m.name.ljust(width)}  {m.file}  [{m.target}] {m.why}")
