"""Explorer speed and memory: distinct states per second for the 3-replica configuration.

    python -m benchmarks.explore [--max-states N] [--quick] [--profile] [--candidates K]
                                 [--no-symmetry]
    python -m benchmarks.explore --parallel [--max-states N] [--jobs 2]

Runs breadth-first `harness.explore.explore` over the default bounds (3 replicas, 1 write,
1 read, 1 crash, ballots <= 2) until ``--max-states`` distinct states (or exhaustion).
Prints distinct states per wall and per CPU second (target >= 10,000 on one core), the
transitions per CPU second, memory per state (traced allocations alive at the end of the
search, divided by the states: the visited table plus the frontier) and a result hash over
(states, transitions, max depth), which depends only on the code. ``--profile`` adds where
the CPU time goes, summed by package (consensus, harness.explore, the rest).
``--candidates K`` / ``--no-symmetry`` measure the symmetry reduction's cost per state
(`harness.explore.symmetry`).

``--parallel`` runs the same search three ways, one after the other: one process (``-j
1``), ``--jobs`` worker processes (``-j 2``), and a local Dask cluster of ``--jobs`` worker
processes (127.0.0.1, closed at the end); default: the whole default search. Per way:
states per wall second, CPU seconds (this process, and the workers': reaped children for
``-j``, the partitions' own methods for Dask), each partition's CPU and states expanded
(the balance), the critical path (each level's slowest partition, summed) and for ``-j``
the bound it puts on the speed-up of an idle machine (``-j 1`` CPU over the critical path
plus the coordinator's CPU; wall times on a shared machine say little), bytes per state
of the fingerprint table (visited digests and parent records) and of the workers' peak RSS,
the collision bound; then one result hash over (states, transitions, max depth, verdict,
refused, path ends), which must be the same for the three ways. Wall speed-ups mean
something only on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import logging
import os
import pstats
import time
import tracemalloc
from typing import Any

from harness.explore import Bounds, ExploreResult, explore
from harness.explore.levels import collision_probability


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.explore")
    parser.add_argument("--max-states", type=int, default=None,
                        help="default 50,000 (with --parallel: the whole search)")
    parser.add_argument("--quick", action="store_true", help="5,000 states")
    parser.add_argument("--profile", action="store_true", help="CPU time by package")
    parser.add_argument("--candidates", type=int, default=None, help="nodes that may campaign")
    parser.add_argument("--symmetry", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--parallel", action="store_true",
                        help="-j 1 vs -j N vs N local Dask workers (whole search by default)")
    parser.add_argument("--jobs", type=int, default=2, help="--parallel: partitions")
    args = parser.parse_args(argv)
    logging.getLogger("consensus").setLevel(logging.CRITICAL)
    if args.parallel:
        _parallel(Bounds(candidates=args.candidates, symmetry=args.symmetry),
                  5_000 if args.quick else args.max_states, args.jobs)
        return
    limit = 5_000 if args.quick else 50_000 if args.max_states is None else args.max_states
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


def _result_hash(r: ExploreResult) -> str:
    text = (f"{r.states},{r.transitions},{r.max_depth},{r.verdict},"
            f"{sorted(r.refused.items())},{r.ends}")
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def _report(name: str, r: ExploreResult, wall: float, cpu: float) -> None:
    print(f"{name}: states={r.states} transitions={r.transitions} max_depth={r.max_depth} "
          f"verdict={r.verdict} wall_s={wall:.1f} cpu_s={cpu:.1f} "
          f"states_per_wall_s={r.states / wall:,.0f} result_hash={_result_hash(r)}")
    par = r.parallel
    if par is None:
        return
    for w in par["workers"]:
        print(f"  partition {w['partition']}: cpu_s={w['cpu_s']} expanded={w['expanded']} "
              f"shipped_in={w['shipped_in']} peak_rss_kb={w['peak_rss_kb']}")
    print(f"  critical_path_cpu_s={par['critical_path_cpu_s']} (each level's slowest "
          f"partition, summed)")
    print(f"  rebalanced_states={par['rebalanced_states']} "
          f"table_bytes_per_state={par['table_bytes_per_state']} "
          f"worker_rss_bytes_per_state={par['worker_rss_bytes_per_state']}")


def _parallel(bounds: Bounds, limit: int | None, jobs: int) -> None:
    import distributed

    print(f"bounds: {bounds.to_json()} max_states={limit} jobs={jobs} "
          f"cpus={os.cpu_count()} load_avg={os.getloadavg()[0]:.1f}")
    hashes: list[str] = []
    rates: dict[str, float] = {}
    ways: list[tuple[str, dict[str, Any]]] = [("-j 1", {}), (f"-j {jobs}", {"jobs": jobs})]
    cpus: dict[str, float] = {}
    for name, kw in ways:
        t0, c0 = time.perf_counter(), os.times()
        r = explore(bounds, max_states=limit, **kw)
        wall, c1 = time.perf_counter() - t0, os.times()
        own = c1.user - c0.user + c1.system - c0.system
        cpu = own + c1.children_user - c0.children_user + c1.children_system - c0.children_system
        _report(name, r, wall, cpu)
        cpus[name] = cpu
        if r.parallel is not None:
            # On an idle machine with a core per worker, a level takes as long as its
            # slowest partition and the coordinator works between levels.
            bound = cpus["-j 1"] / (r.parallel["critical_path_cpu_s"] + own)
            print(f"  cpu_s ratio to -j 1: {cpu / cpus['-j 1']:.3f}; coordinator cpu_s="
                  f"{own:.2f}; idle speed-up bound (-j 1 cpu_s / (critical path + "
                  f"coordinator)): {bound:.2f}")
        hashes.append(_result_hash(r))
        rates[name] = r.states / wall
        if r.parallel is None:
            tracemalloc.start()
            small = explore(bounds, max_states=5_000)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(f"  traced bytes per state (first {small.states} states): "
                  f"{peak / small.states:,.0f}; peak RSS bytes per state: "
                  f"{r.peak_rss_kb * 1024 / r.states:,.0f}")
    with distributed.LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        executor = "dask://" + cluster.scheduler_address.removeprefix("tcp://")
        t0, c0 = time.perf_counter(), os.times()
        r = explore(bounds, max_states=limit, executor=executor)
        wall, c1 = time.perf_counter() - t0, os.times()
    assert r.parallel is not None
    cpu = c1.user - c0.user + c1.system - c0.system + sum(
        w["cpu_s"] for w in r.parallel["workers"])
    _report(f"dask {jobs} workers", r, wall, cpu)
    hashes.append(_result_hash(r))
    rates["dask"] = r.states / wall
    print(f"speed-up (wall) -j {jobs} / -j 1: {rates[f'-j {jobs}'] / rates['-j 1']:.2f}; "
          f"dask / -j 1: {rates['dask'] / rates['-j 1']:.2f}")
    print(f"fingerprints: 128 bits; collision probability <= "
          f"{collision_probability(r.states):.1e}")
    print(f"result hashes agree: {len(set(hashes)) == 1}")
    print(f"result hash: {hashes[0]}")


if __name__ == "__main__":
    main()
