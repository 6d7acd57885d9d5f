"""Explorer speed and memory: distinct states per second for the 3-replica configuration.

    python -m benchmarks.explore [--max-states N] [--quick] [--profile] [--candidates K]
                                 [--no-symmetry]

Runs breadth-first `harness.explore.explore` over the default bounds (3 replicas, 1 write,
1 read, 1 crash, ballots <= 2) until ``--max-states`` distinct states (or exhaustion).
Prints distinct states per wall and per CPU second (target >= 10,000 on one core), the
transitions per CPU second, memory per state (traced allocations alive at the end of the
search, divided by the states: the visited table plus the frontier) and a result hash over
(states, transitions, max depth), which depends only on the code. ``--profile`` adds where
the CPU time goes, summed by package (consensus, harness.explore, the rest).
``--candidates K`` / ``--no-symmetry`` measure the symmetry reduction's cost per state
(`harness.explore.symmetry`).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import logging
import pstats
import time
import tracemalloc

from harness.explore import Bounds, explore


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.explore")
    parser.add_argument("--max-states", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true", help="5,000 states")
    parser.add_argument("--profile", action="store_true", help="CPU time by package")
    parser.add_argument("--candidates", type=int, default=None, help="nodes that may campaign")
    parser.add_argument("--symmetry", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args(argv)
    logging.getLogger("consensus").setLevel(logging.CRITICAL)
    limit = 5_000 if args.quick else args.max_states
    bounds = Bounds(candidates=args.candidates, symmetry=args.symmetry)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    result = explore(bounds, max_states=limit)
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    print(f"bounds: {bounds.to_json()}")
    print(f"states={result.states} transitions={result.transitions} "
          f"max_depth={result.max_depth} complete={result.complete}")
    print(f"distinct states per wall second: {result.states / wall:,.0f}")
    print(f"distinct states per CPU second: {result.states / cpu:,.0f} (target >= 10,000)")
    print(f"transitions per CPU second: {result.transitions / cpu:,.0f}")
    # Memory: a second, smaller run under tracemalloc (it slows the run, not the figure).
    small = min(limit, 5_000)
    tracemalloc.start()
    explore(bounds, max_states=small)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"memory per state (peak traced / states, {small} states): {peak / small:,.0f} bytes")
    print(f"peak RSS: {result.peak_rss_kb / 1024:,.1f} MiB")
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        explore(bounds, max_states=small)
        prof.disable()
        by_pkg: dict[str, float] = {}
        stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
        for (filename, _, _), (_, _, tottime, _, _) in stats.items():
            pkg = ("consensus" if "/consensus/" in filename else
                   "harness.explore" if "/harness/explore/" in filename else
                   "harness.checks" if "/harness/checks/" in filename else "other")
            by_pkg[pkg] = by_pkg.get(pkg, 0.0) + tottime
        total = sum(by_pkg.values()) or 1.0
        for pkg, t in sorted(by_pkg.items(), key=lambda kv: -kv[1]):
            print(f"  cpu in {pkg}: {100 * t / total:.0f}%")
    digest = hashlib.blake2b(
        f"{result.states},{result.transitions},{result.max_depth}".encode(), digest_size=8
    )
    print(f"result hash: {digest.hexdigest()}")


if __name__ == "__main__":
    main()
