"""``paxlab explore [...]``: explicit-state search of the real replicas within bounds.

Prints the bounds first, progress lines on stderr (every 50,000 states), then the results:
distinct states, transitions, maximum depth, states per second, peak memory, whether
symmetry reduction was on (and the group: ``on:2[[1,2]]``), the transitions each bound
refused (``refused: inflight=N max_round=M depth=K``) and the paths that ran to their end,
then one verdict: PASSED (every state within the bounds checked, and not every path was cut
by a bound: see docs/explore.md), INCOMPLETE (nothing found, but the search was capped by
``--max-states``, was random walks, or every path was cut by a bound: no verdict), or the
violated property, the artifact folder and the length of its schedule. ``--json`` prints one
JSON object instead.

``--protocol NAME`` searches another registered protocol with the protocol-generic explorer
(`harness.explore.generic`: breadth-first, the shared checks, bounds ``--writes --reads
--crashes --ticks --drops --dups --inflight --depth --max-states``); a protocol whose spec says
the explorer does not support it is refused (one line, exit 2). Its violations print the
schedule; they write no artifact (explore artifacts replay Multi-Paxos schedules).

Exit codes: 0 PASSED, 1 a property was violated, 2 bad usage (negative or oversized
bounds, unbounded ticks without a depth limit, an ``--out`` that cannot be a folder, a
protocol the explorer does not support): one line, no traceback; 3 INCOMPLETE (unknown);
130 interrupted (a parallel search prints the counts of the levels it finished).

``-j N`` runs breadth-first search in N worker processes, ``--executor dask://HOST:PORT``
on a Dask cluster's workers (`harness.explore.levels`): the same counts, verdict and trace
as one process, one progress line per level, and the partitions' work and memory.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import attrs

from harness.cli import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_UNKNOWN,
    EXIT_USAGE,
    EXIT_VIOLATION,
    CliError,
    check_output_dir,
)
from harness.cli.protocol_option import add_protocol_option, protocol_spec
from harness.explore import Bounds, BoundsError, explore
from harness.explore.bounds import STRATEGIES, default_inflight
from harness.explore.drivers import MAX_JOBS, parse_executor
from harness.explore.levels import (
    ExploreWorkerError,
    Interrupted,
    LevelProgress,
    collision_probability,
)
from harness.explore.search import ExploreResult
from harness.failures.explore_artifact import write_explore_artifact
from harness.sim.runspec import VARIANTS

_D = Bounds()


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("explore", help="model-check all interleavings within bounds")
    p.add_argument("--strategy", default="bfs", help=f"{', '.join(STRATEGIES)} (default bfs)")
    p.add_argument("--replicas", type=int, default=_D.replicas)
    p.add_argument("--writes", type=int, default=None,
                   help=f"default {_D.writes} (the protocol's own default with --protocol)")
    p.add_argument("--reads", type=int, default=None,
                   help=f"default {_D.reads} (the protocol's own default with --protocol)")
    p.add_argument("--crashes", type=int, default=None,
                   help=f"default {_D.crashes} (the protocol's own default with --protocol)")
    p.add_argument("--max-round", type=int, default=_D.max_round, help="ballot round bound")
    p.add_argument("--ticks", type=int, default=None,
                   help=f"Tick transitions per path; -1 = unbounded (needs --depth); default "
                        f"{_D.ticks} (the protocol's own default with --protocol)")
    p.add_argument("--drops", type=int, default=_D.drops, help="message losses per path")
    p.add_argument("--dups", type=int, default=_D.dups, help="message duplications per path")
    p.add_argument("--inflight", type=int, default=None,
                   help="messages in flight (default: room for an election and a broadcast, "
                        f"(R-1) + (R-1)//2 for R replicas: {default_inflight(3)} for 3, "
                        f"{default_inflight(5)} for 5)")
    p.add_argument("--depth", type=int, default=None, help="longest path (default none)")
    p.add_argument("--variant", default=None, help=f"broken protocol: {', '.join(VARIANTS)}")
    p.add_argument("--candidates", type=int, default=None,
                   help="only nodes 0..K-1 may start an election (default: every replica); "
                        "fewer is an under-approximation that makes the others "
                        "interchangeable")
    p.add_argument("--symmetry", action=argparse.BooleanOptionalAction, default=_D.symmetry,
                   help="identify states that differ by a permutation of interchangeable "
                        "nodes (default on; a no-op unless --candidates leaves two or more "
                        "non-candidates in a 3-node group)")
    p.add_argument("--spares", type=int, default=_D.spares,
                   help="storage spares a healing leader may start (default 0)")
    p.add_argument("--log-spares", type=int, default=None,
                   help="log-replica spares (default 1 for --variant one-step-swap, else 0)")
    p.add_argument("--step-downs", type=int, default=_D.step_downs,
                   help="leaders a path may tell to step down (default 0)")
    p.add_argument("--kills", type=int, default=_D.kills,
                   help="storage replicas a path may kill for good (default 0)")
    p.add_argument("--dead-after-us", type=int, default=None,
                   help="leader replaces a storage voter silent this long (default 50000 "
                        "with spares, else 0 = never)")
    p.add_argument("--max-states", type=int, default=None, help="stop after this many states")
    p.add_argument("--walks", type=int, default=1000, help="random strategy: walks (>= 1)")
    p.add_argument("--seed", type=int, default=0, help="random strategy: seed")
    p.add_argument("-j", "--jobs", type=int, default=1,
                   help="worker processes for a parallel breadth-first search (default 1: "
                        "this process); same counts, verdict and trace as one")
    p.add_argument("--executor", default=None,
                   help="dask://HOST:PORT: run the parallel search's partitions on the "
                        "workers of that Dask scheduler (one per worker; -j is then ignored)")
    p.add_argument("--out", default="explore-artifact", help="artifact folder on violation")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_protocol_option(p)
    p.set_defaults(func=_main)


def _progress_printer() -> Callable[[int, int, int], None]:
    """Progress on stderr, with the wall time so far and the rate (wall time is display
    only: it is in no verdict and no artifact)."""
    started = time.perf_counter()

    def progress(states: int, transitions: int, depth: int) -> None:
        elapsed = time.perf_counter() - started
        rate = states / elapsed if elapsed > 0 else 0.0
        print(f"... states={states} transitions={transitions} depth={depth} "
              f"elapsed={elapsed:.1f}s states_per_s={rate:,.0f}", file=sys.stderr, flush=True)

    return progress


def _level_printer() -> LevelProgress:
    """One progress line per level of a parallel search, with each partition's share of
    the next level (wall time is display only)."""
    started = time.perf_counter()

    def progress(states: int, transitions: int, depth: int, sizes: list[int]) -> None:
        elapsed = time.perf_counter() - started
        rate = states / elapsed if elapsed > 0 else 0.0
        print(f"... level={depth} states={states} transitions={transitions} "
              f"frontier={','.join(map(str, sizes))} elapsed={elapsed:.1f}s "
              f"states_per_s={rate:,.0f}", file=sys.stderr, flush=True)

    return progress


def _symmetry_text(sym: dict[str, object]) -> str:
    """``off``, or ``on`` with the group's order and orbits (``on:1`` = nothing to identify)."""
    if not sym["enabled"]:
        return "off"
    orbits = sym["orbits"]
    return f"on:{sym['group_order']}" + (f"{orbits}".replace(" ", "") if orbits else "")


# Flags only the Multi-Paxos explorer understands (ballot rounds, candidates, symmetry over
# ballots, healing): another protocol's search refuses them unless left at their defaults.
_MULTIPAXOS_ONLY = {
    "max_round": _D.max_round, "candidates": None, "spares": _D.spares, "log_spares": None,
    "kills": _D.kills, "dead_after_us": None, "strategy": "bfs", "step_downs": _D.step_downs,
    "jobs": 1, "executor": None,
}


_DEFAULTED = ("writes", "reads", "crashes", "ticks")
"""Bounds whose default depends on the protocol (`ProtocolSpec.explore_bounds`)."""


def _fill_defaults(args: argparse.Namespace, own: dict[str, int]) -> None:
    """Give every bound of `_DEFAULTED` the user left out the protocol's own default, else
    the Multi-Paxos explorer's (`Bounds`)."""
    for name in _DEFAULTED:
        if getattr(args, name) is None:
            setattr(args, name, own.get(name, getattr(_D, name)))


def _main(args: argparse.Namespace) -> int:
    logging.getLogger("consensus").setLevel(logging.CRITICAL)
    spec = protocol_spec(args.protocol)
    _fill_defaults(args, dict(spec.explore_bounds))
    if spec.name != "multipaxos":
        return _generic_main(args, spec)
    try:
        bounds = Bounds(
            replicas=args.replicas, writes=args.writes, reads=args.reads, crashes=args.crashes,
            max_round=args.max_round, ticks=None if args.ticks == -1 else args.ticks,
            drops=args.drops, dups=args.dups, inflight=args.inflight, depth=args.depth,
            variant=args.variant, candidates=args.candidates, symmetry=args.symmetry,
            spares=args.spares, log_spares=args.log_spares, kills=args.kills,
            step_downs=args.step_downs,
            dead_after_us=args.dead_after_us,
        )
        if args.max_states is not None and args.max_states < 1:
            raise BoundsError(f"max-states must be >= 1, got max_states={args.max_states}")
        if args.strategy == "random" and args.walks < 1:
            raise BoundsError(f"walks must be >= 1, got walks={args.walks}")
        parallel = args.jobs != 1 or args.executor is not None
        if parallel and args.strategy != "bfs":
            raise BoundsError(f"-j and --executor need --strategy bfs, got {args.strategy}")
        if not 1 <= args.jobs <= MAX_JOBS:
            raise BoundsError(f"jobs must be in 1..{MAX_JOBS}, got jobs={args.jobs}")
        if args.executor is not None:
            parse_executor(args.executor)
        check_output_dir(args.out, "--out")
        if not args.json:
            print(f"explore strategy={args.strategy} bounds={bounds.to_json()}", flush=True)
        result = explore(bounds, strategy=args.strategy, max_states=args.max_states,
                         walks=args.walks, seed=args.seed, progress=_progress_printer(),
                         jobs=args.jobs, executor=args.executor,
                         level_progress=_level_printer())
    except BoundsError as exc:
        print(f"paxlab explore: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except Interrupted as exc:
        print(f"paxlab explore: {exc} (levels finished so far)", file=sys.stderr)
        return EXIT_INTERRUPTED
    except ExploreWorkerError as exc:  # a worker died or a Dask cluster went away: no verdict
        first = str(exc).splitlines()[0]
        print(f"paxlab explore: search failed: {first}", file=sys.stderr)
        return EXIT_UNKNOWN
    data = result.to_json()
    folder = None
    if result.violation is not None:
        folder = str(write_explore_artifact(args.out, result))
        data["artifact"] = folder
    if args.json:
        print(json.dumps(data, sort_keys=True))
    else:
        print(
            f"states={result.states} transitions={result.transitions} "
            f"max_depth={result.max_depth} states_per_s={result.states_per_s:.0f} "
            f"elapsed_s={result.elapsed_s:.1f} peak_rss_kb={result.peak_rss_kb} "
            f"complete={result.complete} symmetry={_symmetry_text(data['symmetry'])}"
        )
        refused = " ".join(f"{k}={v}" for k, v in result.refused.items())
        print(f"refused: {refused} path_ends={result.ends}")
        print(f"fingerprints: 128-bit digests, collision probability <= "
              f"{collision_probability(result.states):.1e} (n^2/2^129 for n states)")
        if result.parallel is not None:
            _print_parallel(result.parallel)
        if result.violation is not None:
            print(f"VIOLATION {result.violation.message} schedule_steps={len(result.schedule)} "
                  f"artifact={folder}")
        elif result.complete:
            print("PASSED")
        else:
            print(f"INCOMPLETE: no violation found, but {result.incomplete_reason()}"
                  f"{_hint(result)}")
    return {"ok": EXIT_OK, "violation": EXIT_VIOLATION}.get(result.verdict, EXIT_UNKNOWN)


def _print_parallel(par: dict[str, Any]) -> None:
    """The partitions' work balance and memory."""
    print(f"parallel: partitions={par['partitions']} executor={par['executor']} "
          f"rebalanced_states={par['rebalanced_states']} "
          f"table_bytes_per_state={par['table_bytes_per_state']} "
          f"worker_rss_bytes_per_state={par['worker_rss_bytes_per_state']} "
          f"critical_path_cpu_s={par['critical_path_cpu_s']}")
    for w in par["workers"]:
        print(f"  partition {w['partition']}: cpu_s={w['cpu_s']} expanded={w['expanded']} "
              f"owned={w['owned']} shipped_in={w['shipped_in']} "
              f"shipped_out={w['shipped_out']} peak_rss_kb={w['peak_rss_kb']}")


def _hint(result: ExploreResult) -> str:
    """What to raise when every path was cut, naming the bound that refused the most."""
    if not result.cut_short or not result.exhausted:
        return ""
    cut = sorted((k for k, v in result.refused.items() if v), key=lambda k: -result.refused[k])
    return "; raise " + " or ".join(f"--{k.replace('_', '-')}" for k in cut)


_GENERIC_SHOWN = ("replicas", "writes", "reads", "crashes", "ticks", "drops", "dups", "inflight",
                  "depth")
"""The bounds the generic explorer uses (printed first, and under ``bounds`` in --json)."""


def _shown(bounds: Bounds) -> dict[str, Any]:
    """`_GENERIC_SHOWN` of ``bounds``, ``inflight`` resolved (its default grows with the
    replicas)."""
    return {k: bounds.max_inflight if k == "inflight" else getattr(bounds, k)
            for k in _GENERIC_SHOWN}


def _generic_main(args: argparse.Namespace, spec: Any) -> int:
    """``--protocol NAME`` (not Multi-Paxos): the protocol-generic breadth-first search."""
    from harness.explore.generic import explore_generic

    if not spec.explorer:
        raise CliError(f"protocol {spec.name}: the explorer does not support it (its spec "
                       "says so); run it with paxlab run or sweep")
    for name, default in _MULTIPAXOS_ONLY.items():
        if getattr(args, name) != default:
            flag = name.replace("_", "-")
            raise CliError(f"--{flag} is for the Multi-Paxos explorer only, got --protocol "
                           f"{spec.name}")
    if args.variant is not None and args.variant not in spec.variants:
        raise CliError(f"unknown variant {args.variant!r} of protocol {spec.name}; choose "
                       f"from {', '.join(spec.variants) or 'none exist'}")
    try:
        bounds = Bounds(
            replicas=args.replicas, writes=args.writes, reads=args.reads, crashes=args.crashes,
            ticks=None if args.ticks == -1 else args.ticks, drops=args.drops, dups=args.dups,
            inflight=args.inflight, depth=args.depth,
        )
        if args.max_states is not None and args.max_states < 1:
            raise BoundsError(f"max-states must be >= 1, got max_states={args.max_states}")
    except BoundsError as exc:
        raise CliError(str(exc)) from None
    if not args.json:
        text = " ".join(f"{k}={v}" for k, v in _shown(bounds).items())
        print(f"explore protocol={spec.name} variant={args.variant} strategy=bfs {text}",
              flush=True)
        print(f"checks: shared (explorer: {spec.name} has no ghost checks here)", flush=True)
    result = explore_generic(spec.make_replica, bounds, variant=args.variant,
                             max_states=args.max_states)
    if args.json:
        data = attrs.asdict(result, recurse=False)
        data["violation"] = None if result.violation is None else result.violation.to_json()
        data["schedule"] = [list(a) for a in result.schedule]
        data["protocol"] = spec.name
        data["bounds"] = _shown(bounds)
        print(json.dumps(data, sort_keys=True, default=str))
    else:
        refused = " ".join(f"{k}={v}" for k, v in result.refused.items())
        print(f"states={result.states} transitions={result.transitions} "
              f"max_depth={result.max_depth} path_ends={result.ends} refused: {refused}")
        if result.violation is not None:
            for i, action in enumerate(result.schedule, 1):
                print(f"  {i}. {' '.join(map(str, action))}")
            print(f"VIOLATION {result.violation.message} schedule_steps={len(result.schedule)} "
                  "(no artifact: explore artifacts replay Multi-Paxos schedules)")
        elif result.verdict == "ok":
            print("PASSED")
        else:
            why = "--max-states capped the search" if result.ends else "every path was cut"
            print(f"INCOMPLETE: no violation found, but {why}")
    return {"ok": EXIT_OK, "violation": EXIT_VIOLATION}.get(result.verdict, EXIT_UNKNOWN)
