"""Simulator speed: the default run (3 replicas, 1,000 ops, all faults), one command.

    python -m benchmarks.sim [--seeds N] [--ops N] [--quick] [--case NAME] [--profile]
    python -m benchmarks.sim --compare REV [--seeds N] [--rounds N] [--sweep-seeds N]

Cases (``--case``, default ``default``; ``all`` runs both):

- ``default``: the default run: 3 replicas, 5 clients, 1,000 ops, all faults.
- ``messages``: a message-heavy run, labelled as such: 5 replicas and 20 clients, so each
  write is 8 peer messages instead of 4 and more of the run is message handling.

What is measured, per case: every run is whole, on one core: replicas, storage (WAL, B-tree,
simulated disk), the online invariants after every step, the trace fingerprint, the client
tasks and the final linearizability check. Each run's wall and CPU time (``process_time``:
the machine may be shared), simulated time, steps and delivered messages (peer messages,
`consensus.events.Receive`, handed to a live replica's step) are printed, then the means. A
result hash over the runs' fingerprints ends each case (same code, same hash).

The simulator's speed targets are two figures, both measured by ``--compare REV``
(`benchmarks.sim_compare`), this tree against REV back to back in subprocesses, with the
fingerprints of both asserted identical:

- the default run (``paxlab run --seed N``): at most half the CPU seconds per run of main at
  0406e42 (mean over seeds 0..N-1 of each seed's least CPU time over the rounds);
- the README's main job (``paxlab sweep``: seeds 0..99, ``-j 2``): at least 1,200 seeds per
  minute on 2 idle cores (the sweep's and its workers' CPU seconds divided by 2; start-up
  and worker start included), printed beside the wall-clock rate as measured.

(These replace an earlier target of 50,000 delivered messages per second per core: a
message rate rewards runs that send more messages, and `benchmarks.sim_floor` showed it out
of reach of this protocol and storage code alone, with no harness at all.)

``--profile`` runs the first seed of each case once more under cProfile and prints the share
of time per layer, then the functions with the most own time (``--top N``, default 12).
cProfile charges every Python call, so call-heavy code looks dearer than it is; read the
shares as a ranking.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import pstats
import time
from collections import Counter
from typing import Any

from harness.sim import simulate
from harness.sim.runspec import RunOptions
from harness.sim.trace import Trace

CASES: dict[str, dict[str, Any]] = {
    "default": {},
    "messages": {"replicas": 5, "clients": 20},
}
LABELS = {
    "default": "default run: 3 replicas, 5 clients, all faults",
    "messages": "message-heavy run: 5 replicas, 20 clients, all faults",
}

# Where a function's file lives -> the layer it is charged to (first match wins).
_LAYERS: tuple[tuple[str, str], ...] = (
    ("/consensus/", "consensus (replica step)"),
    ("consensus.", "consensus (replica step)"),
    ("/storage/", "storage (WAL, B-tree, KV, sim disk)"),
    ("storage.", "storage (WAL, B-tree, KV, sim disk)"),
    ("/harness/invariants.py", "online invariants"),
    ("/harness/statemodel.py", "online invariants"),
    ("/harness/accepts.py", "online invariants"),
    ("/harness/quorum_view.py", "online invariants"),
    ("/harness/membership_invariants.py", "online invariants"),
    ("/harness/trace.py", "trace, fingerprint, observer"),
    ("/harness/observer.py", "trace, fingerprint, observer"),
    ("/harness/checks/", "linearizability check"),
    ("/harness/workload.py", "clients and history"),
    ("/harness/history.py", "clients and history"),
    ("harness.checks.history", "clients and history"),
    ("/harness/", "simulator (queue, host, network, clocks, nemesis)"),
    ("harness.", "simulator (queue, host, network, clocks, nemesis)"),
    ("/trio/", "trio"),
    ("outcome", "trio"),
)


def _layer(filename: str) -> str:
    for needle, layer in _LAYERS:
        if needle in filename:
            return layer
    return "builtins and other"


def _where(filename: str, name: str) -> str:
    """``package/module.py:function`` (or the builtin's name) for the top-functions list."""
    if filename == "~":
        return name
    parts = filename.replace("\\", "/").split("/")
    return f"{'/'.join(parts[-2:])}:{name}"


def _profile(options: RunOptions, top: int) -> None:
    """Run ``options`` under cProfile; print each layer's share and the ``top`` functions."""
    profiler = cProfile.Profile()
    profiler.enable()
    sim = simulate(options, trace=Trace(keep=False))
    sim.final_check()
    profiler.disable()
    shares: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    for (filename, _line, name), (_cc, _nc, own_s, _cum, _callers) in stats.items():
        shares[_layer(filename)] += own_s
        functions[_where(filename, name)] += own_s
    total = sum(shares.values()) or 1.0
    print("  profile (cProfile, own time by layer):")
    for layer, seconds in shares.most_common():
        print(f"    {seconds / total:6.1%}  {layer}")
    if top > 0:
        print(f"  top {top} functions (own time):")
        for where, seconds in functions.most_common(top):
            print(f"    own {seconds / total:5.1%}  {where}")


def run_case(name: str, seeds: int, ops: int, profile: bool, top: int = 12) -> None:
    """Time ``seeds`` runs of case ``name`` and print the figures (see the module doc)."""
    digest = hashlib.blake2b(digest_size=16)
    total_wall = 0.0
    total_cpu = 0.0
    total_delivered = 0
    total_steps = 0
    print(f"case {name}: {LABELS[name]}, {ops} ops")
    for seed in range(seeds):
        options = RunOptions(seed=seed, ops=ops, **CASES[name])
        trace = Trace(keep=False)
        started = time.perf_counter()
        cpu_started = time.process_time()
        sim = simulate(options, trace=trace)
        violation = sim.final_check()
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        total_wall += wall
        total_cpu += cpu
        total_delivered += sim.delivered
        total_steps += trace.steps
        digest.update(trace.fingerprint().encode())
        verdict = "ok" if violation is None else violation.property
        print(
            f"  seed={seed} verdict={verdict} wall={wall:.3f}s cpu={cpu:.3f}s "
            f"sim={sim.now / 1e6:.2f}s steps={trace.steps} delivered={sim.delivered}"
        )
    print(f"  mean wall per run: {total_wall / seeds:.3f} s")
    print(f"  mean CPU per run: {total_cpu / seeds:.3f} s (wall includes other load)")
    print(f"  delivered messages per wall second: {total_delivered / total_wall:,.0f}")
    print(f"  delivered messages per CPU second: {total_delivered / total_cpu:,.0f}")
    print(f"  steps per CPU second: {total_steps / total_cpu:,.0f}")
    print(f"  result hash: {digest.hexdigest()}")
    if profile:
        _profile(RunOptions(seed=0, ops=ops, **CASES[name]), top)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sim")
    parser.add_argument("--seeds", type=int, default=5, help="runs to time (seeds 0..N-1)")
    parser.add_argument("--ops", type=int, default=1000, help="client operations per run")
    parser.add_argument("--quick", action="store_true", help="2 seeds of 200 ops")
    parser.add_argument("--case", choices=[*CASES, "all"], default="default")
    parser.add_argument("--profile", action="store_true", help="also print a layer profile")
    parser.add_argument(
        "--top", type=int, default=12, help="with --profile: functions listed (default 12)"
    )
    parser.add_argument("--compare", metavar="REV",
                        help="time the default run and the main job here and at git REV "
                        "(benchmarks.sim_compare)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="with --compare: alternating rounds per tree (default 2)")
    parser.add_argument("--sweep-seeds", type=int, default=100,
                        help="with --compare: seeds of the main-job sweep, 0 for none "
                        "(default 100, as the README runs it)")
    parser.add_argument("--jobs", type=int, default=2,
                        help="with --compare: sweep workers (default 2)")
    parser.add_argument("--allow-different", action="store_true",
                        help="with --compare: exit 0 even if the fingerprints differ")
    args = parser.parse_args(argv)
    seeds, ops = (2, 200) if args.quick else (args.seeds, args.ops)
    if seeds < 1 or ops < 0:
        parser.error(f"need seeds >= 1 and ops >= 0, got seeds={seeds} ops={ops}")
    if args.compare is not None:
        if args.rounds < 1 or args.sweep_seeds < 0 or args.jobs < 1:
            parser.error(f"need rounds >= 1, sweep-seeds >= 0 and jobs >= 1, got "
                         f"rounds={args.rounds} sweep_seeds={args.sweep_seeds} jobs={args.jobs}")
        from benchmarks.sim_compare import compare

        try:
            code = compare(args.compare, seeds=seeds, ops=ops, rounds=args.rounds,
                           sweep_seeds=args.sweep_seeds, jobs=args.jobs,
                           allow_different=args.allow_different)
        except ValueError as exc:
            parser.error(str(exc))
        raise SystemExit(code)
    for name in CASES if args.case == "all" else (args.case,):
        run_case(name, seeds, ops, args.profile, args.top)


if __name__ == "__main__":
    main()
