"""Simulator speed: the default run (3 replicas, 1,000 ops, all faults), one command.

    python -m benchmarks.sim [--seeds N] [--ops N] [--quick]

Prints, per seed, wall time, simulated time, steps and delivered peer messages; then the
mean wall and CPU seconds per run (target <= 5 s on one core), delivered messages per wall
and per CPU second (target >= 50,000), and a result hash over the runs' fingerprints (same
code, same hash). Each run includes the online invariants and the linearizability check.
"""

from __future__ import annotations

import argparse
import hashlib
import time

from harness.runspec import RunOptions
from harness.sim import simulate
from harness.trace import Trace


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.sim")
    parser.add_argument("--seeds", type=int, default=5, help="runs to time (seeds 0..N-1)")
    parser.add_argument("--ops", type=int, default=1000, help="client operations per run")
    parser.add_argument("--quick", action="store_true", help="2 seeds of 200 ops")
    args = parser.parse_args(argv)
    seeds, ops = (2, 200) if args.quick else (args.seeds, args.ops)
    digest = hashlib.blake2b(digest_size=16)
    total_wall = 0.0
    total_cpu = 0.0
    total_delivered = 0
    total_steps = 0
    for seed in range(seeds):
        trace = Trace(keep=False)
        started = time.perf_counter()
        cpu_started = time.process_time()
        sim = simulate(RunOptions(seed=seed, ops=ops), trace=trace)
        violation = sim.final_check()
        wall = time.perf_counter() - started
        total_wall += wall
        total_cpu += time.process_time() - cpu_started
        total_delivered += sim.delivered
        total_steps += trace.steps
        digest.update(trace.fingerprint().encode())
        verdict = "ok" if violation is None else violation.property
        print(
            f"seed={seed} ops={ops} verdict={verdict} wall={wall:.3f}s "
            f"sim={sim.now / 1e6:.2f}s steps={trace.steps} delivered={sim.delivered}"
        )
    print(f"mean wall per run: {total_wall / seeds:.3f} s (target <= 5 s at 1,000 ops)")
    print(f"mean CPU per run: {total_cpu / seeds:.3f} s (wall above includes other load)")
    print(f"delivered messages per wall second: {total_delivered / total_wall:,.0f}")
    print(f"delivered messages per CPU second: {total_delivered / total_cpu:,.0f}")
    print(f"steps per wall second: {total_steps / total_wall:,.0f}")
    print(f"result hash: {digest.hexdigest()}")


if __name__ == "__main__":
    main()
