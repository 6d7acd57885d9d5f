"""Default-run fingerprints over a seed range: the proof that a change changed no behaviour.

    python -m benchmarks.fingerprints [--seeds 0:100] [--write FILE | --check FILE]

A fingerprint is blake2b over a run's ordered event trace (`harness.sim.trace`), so two trees
that give the same fingerprint for a seed ran that seed identically, step for step. A change
that is meant to change nothing (a move, a refactor, a speed-up) must leave every fingerprint
of ``tests/data/fingerprints.json`` as it is; a change that is meant to change behaviour
re-records the file with ``--write`` and says why in its commit. Prints one line per seed and
a result hash over all of them; ``--check`` exits 1 on the first seed that differs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import time
from pathlib import Path

from harness.sim import run
from harness.sim.runspec import RunOptions

DEFAULT_FILE = Path(__file__).resolve().parent.parent / "tests" / "data" / "fingerprints.json"


def fingerprints(seeds: range) -> dict[str, str]:
    """The default run's fingerprint for each seed, keyed by the seed as a string."""
    return {str(seed): run(RunOptions(seed=seed)).fingerprint for seed in seeds}


def _seed_range(text: str) -> range:
    start, _, stop = text.partition(":")
    return range(int(start), int(stop)) if stop else range(int(start))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fingerprints")
    parser.add_argument("--seeds", default="0:100", help="A:B (default 0:100) or N for 0..N-1")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", type=Path, metavar="FILE", help="record the fingerprints")
    group.add_argument("--check", type=Path, metavar="FILE", nargs="?", const=DEFAULT_FILE,
                       help=f"compare with a recorded file (default {DEFAULT_FILE.name})")
    args = parser.parse_args(argv)
    logging.disable(logging.CRITICAL)  # runs log injected disk faults; the figures are enough
    seeds = _seed_range(args.seeds)
    expected = json.loads(args.check.read_text()) if args.check else {}
    started = time.perf_counter()
    found: dict[str, str] = {}
    for seed in seeds:
        fp = run(RunOptions(seed=seed)).fingerprint
        found[str(seed)] = fp
        want = expected.get(str(seed))
        mark = "" if want is None else (" ok" if want == fp else f" DIFFERS (recorded {want})")
        print(f"seed {seed} {fp}{mark}")
        if want is not None and want != fp:
            return 1
    digest = hashlib.blake2b("\n".join(found.values()).encode(), digest_size=8).hexdigest()
    print(f"seeds={len(seeds)} wall_s={time.perf_counter() - started:.1f} result_hash={digest}")
    if args.write:
        args.write.write_text(json.dumps(found, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
