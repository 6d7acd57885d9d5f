"""Sweep throughput: seeds per second over default runs with a local process pool.

    python -m benchmarks.sweep            # 1,000 default seeds, -j 2 (target: <= 300 s)
    python -m benchmarks.sweep --quick    # 50 seeds

(Run it as a module: as a script, benchmarks/storage.py would shadow the storage package.)

Prints the figures and a result hash over every (seed, verdict, fingerprint), which must be
the same on every machine for the same seeds and code.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import tempfile
from pathlib import Path

from harness.failures.sweep import sweep
from harness.sim.runspec import RunOptions

TARGET_S_PER_1000 = 300.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50 seeds instead of 1,000")
    parser.add_argument("--seeds", type=int, default=None, help="number of seeds")
    parser.add_argument("-j", "--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None,
                        help="keep failure artifacts here (default: discarded)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)  # injected-fault logs are expected noise
    count = args.seeds or (50 if args.quick else 1000)
    with tempfile.TemporaryDirectory() as scratch:
        out = args.out if args.out is not None else Path(scratch)
        summary = sweep(RunOptions(), range(count), jobs=args.jobs, out=out)
    digest = hashlib.blake2b(digest_size=8)
    for o in summary.outcomes:
        digest.update(f"{o.seed} {o.verdict} {o.fingerprint}\n".encode())
    projected_s = summary.wall_time_s / count * 1000
    run_times = sorted(o.wall_time_s for o in summary.outcomes)
    cpu_times = sorted(o.cpu_time_s for o in summary.outcomes)
    # What 1,000 seeds would take on `jobs` otherwise idle cores: CPU time per run is not
    # inflated by other processes the way wall time is.
    idle_s = sum(cpu_times) / count * 1000 / args.jobs
    errors = sum(1 for o in summary.outcomes if o.verdict == "error")
    print(f"seeds: {count}  jobs: {args.jobs}  failed: {summary.failed} (errors: {errors})")
    for group in summary.groups:
        seeds = ", ".join(str(seed) for seed in group.seeds[:10])
        print(f"  {group.signature}: seeds {seeds}{' ...' if len(group.seeds) > 10 else ''}; "
              f"e.g. {group.example}")
    print(f"wall: {summary.wall_time_s:.1f} s  seeds/s: {summary.runs_per_s:.2f}")
    print(f"per run: wall median {run_times[len(run_times) // 2]:.3f} s, max "
          f"{run_times[-1]:.3f} s; cpu median {cpu_times[len(cpu_times) // 2]:.3f} s")
    for label, seconds in (("measured", projected_s), ("on idle cores (cpu)", idle_s)):
        verdict = "ok" if seconds <= TARGET_S_PER_1000 else "MISSED"
        print(f"1,000 seeds, {label}: {seconds:.0f} s (target <= {TARGET_S_PER_1000:.0f} s: "
              f"{verdict})")
    print(f"result hash: {digest.hexdigest()}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
