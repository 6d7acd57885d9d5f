"""`python -m benchmarks.sim --compare REV`: this tree against another revision, back to back.

Two figures, the two the simulator's speed is judged by:

- **CPU seconds per default run** (`paxlab run --seed N`: 3 replicas, 5 clients, 1,000 ops,
  all faults; what `benchmarks.sim` times): each tree runs the same seeds in its own
  subprocess, in alternating rounds (this tree, REV, this tree, REV, ...); each seed's
  ``time.process_time`` is the least over the rounds (other load only ever adds to it),
  and the figure is the mean over the seeds. CPU time, not wall time, because the machine
  may be shared: it is what the run would take on an idle core. The mean over every round
  is printed beside it (a cost that falls in some runs only, such as a full garbage
  collection, shows there and not in the least).
- **Seeds per minute of the README's main job** (`paxlab sweep`: seeds 0..99 of the default
  run, ``-j 2`` local workers): each tree's ``python -m harness sweep --seeds 0:100 -j 2``
  in a subprocess, start-up, worker start and summary included. Printed per wall minute (as
  measured, other load included) and per minute on 2 idle cores (the sweep's own and its
  workers' CPU time, divided by 2), from the round (of ``--rounds``, alternating trees)
  that took the least CPU.

REV's tree is a ``git archive`` of REV unpacked into a temporary folder; its subprocesses
import that tree's packages (``PYTHONPATH`` comes before the editable install). The same
seeds give the same fingerprints in both trees when the change under test is meant to change
no run: a result hash over them is printed for each tree and the comparison exits 1 when they
differ (``--allow-different`` for a change that means to).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# Runs in each tree's subprocess: only `harness.sim.run` and `RunOptions`, which every
# revision has, so any two revisions can be compared.
_RUNS_SCRIPT = """
import json, logging, sys, time
logging.disable(logging.CRITICAL)
import harness.sim.runspec
from harness.sim import run
from harness.sim.runspec import RunOptions
seeds, ops = json.loads(sys.argv[1])
run(RunOptions(seed=10**6, ops=ops), keep_trace=False)  # warm caches: not timed
out = {"tree": harness.sim.runspec.__file__, "cpu_s": [], "fingerprints": []}
for seed in seeds:
    started = time.process_time()
    result = run(RunOptions(seed=seed, ops=ops), keep_trace=False)
    out["cpu_s"].append(time.process_time() - started)
    out["fingerprints"].append(result.fingerprint)
print(json.dumps(out))
"""


def checkout(rev: str, into: Path) -> Path:
    """Unpack ``git archive REV`` of this repository into ``into``; return the tree's root.

    Raises:
        ValueError: REV is not a revision of this repository.
    """
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", rev],
        capture_output=True, check=False,
    )
    if archive.returncode != 0:
        raise ValueError(f"not a revision of {ROOT}: rev={rev!r} "
                         f"({archive.stderr.decode(errors='replace').strip()})")
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def _env(tree: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tree)
    env["PYTHONHASHSEED"] = "0"
    return env


def time_runs(tree: Path, seeds: list[int], ops: int) -> dict[str, Any]:
    """Run ``seeds`` of the default run (``ops`` ops) in a subprocess importing ``tree``."""
    proc = subprocess.run(
        [sys.executable, "-c", _RUNS_SCRIPT, json.dumps([seeds, ops])],
        cwd=tree, env=_env(tree), capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"runs in tree={tree} failed: {proc.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    if not str(result["tree"]).startswith(str(tree)):
        raise RuntimeError(f"tree={tree} imported another tree's code: {result['tree']}")
    return result


def time_sweep(tree: Path, seeds: int, jobs: int) -> tuple[float, float, int]:
    """``python -m harness sweep --seeds 0:SEEDS -j JOBS`` in ``tree``.

    Returns (wall seconds, CPU seconds of the sweep and its workers, exit code).
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run(
            [sys.executable, "-m", "harness", "sweep", "--seeds", f"0:{seeds}", "-j", str(jobs),
             "--out", out],
            cwd=tree, env=_env(tree), capture_output=True, text=True, check=False,
        )
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, proc.returncode


def result_hash(fingerprints: list[str]) -> str:
    """blake2b over the runs' fingerprints in seed order."""
    return hashlib.blake2b("\n".join(fingerprints).encode(), digest_size=8).hexdigest()


def compare(rev: str, *, seeds: int, ops: int, rounds: int, sweep_seeds: int, jobs: int,
            allow_different: bool = False) -> int:
    """Print both trees' figures and their ratio; return 1 if the fingerprints differ."""
    seed_list = list(range(seeds))
    with tempfile.TemporaryDirectory(prefix="paxlab-compare-") as scratch:
        other = checkout(rev, Path(scratch))
        trees = {"this tree": ROOT, f"rev {rev}": other}
        cpu: dict[str, list[list[float]]] = {name: [] for name in trees}
        hashes: dict[str, str] = {}
        print(f"default run: seeds 0..{seeds - 1}, {ops} ops, {rounds} round(s), "
              f"alternating trees, least CPU time of each seed")
        for _ in range(rounds):
            for name, tree in trees.items():
                result = time_runs(tree, seed_list, ops)
                cpu[name].append(result["cpu_s"])
                hashes[name] = result_hash(result["fingerprints"])
        per_run = {name: sum(map(min, zip(*rounds_s, strict=True))) / seeds
                   for name, rounds_s in cpu.items()}
        # Also the mean over every round: what a sweep pays, costs that fall in some runs
        # only (a full garbage collection) included, and other load too.
        mean_run = {name: sum(map(sum, rounds_s)) / (seeds * len(rounds_s))
                    for name, rounds_s in cpu.items()}
        for name in trees:
            print(f"  {name:>16}: {per_run[name]:.4f} CPU s per run, "
                  f"{1 / per_run[name]:.2f} runs per CPU s, result hash {hashes[name]} "
                  f"(mean over all rounds {mean_run[name]:.4f})")
        mine, theirs = per_run["this tree"], per_run[f"rev {rev}"]
        print(f"  ratio: this tree needs {mine / theirs:.3f}x the CPU of rev {rev} "
              f"({theirs / mine:.2f}x faster; mean over all rounds "
              f"{mean_run['this tree'] / mean_run[f'rev {rev}']:.3f}x)")
        same = len(set(hashes.values())) == 1
        print(f"  fingerprints: {'identical' if same else 'DIFFERENT'}")
        if sweep_seeds > 0:
            print(f"main job: paxlab sweep --seeds 0:{sweep_seeds} -j {jobs} (the README's), "
                  f"{rounds} round(s), the least CPU of each tree")
            rates: dict[str, tuple[float, float]] = {}
            best: dict[str, tuple[float, float, int]] = {}
            for _ in range(rounds):  # alternating again; each tree's least CPU counts
                for name, tree in trees.items():
                    measured = time_sweep(tree, sweep_seeds, jobs)
                    if name not in best or measured[1] < best[name][1]:
                        best[name] = measured
            for name in trees:
                wall, sweep_cpu, code = best[name]
                per_min = sweep_seeds / wall * 60
                idle_per_min = sweep_seeds / (sweep_cpu / jobs) * 60
                rates[name] = (per_min, idle_per_min)
                print(f"  {name:>16}: {wall:.1f} s wall, {sweep_cpu:.1f} CPU s: "
                      f"{per_min:,.0f} seeds/min measured, {idle_per_min:,.0f} seeds/min "
                      f"on {jobs} idle cores (exit {code})")
            a, b = rates["this tree"], rates[f"rev {rev}"]
            print(f"  ratio (idle cores): {a[1] / b[1]:.2f}x the seeds per minute of rev {rev}")
    if not same and not allow_different:
        print("fingerprints differ between the trees: a speed-up must not change any run",
              file=sys.stderr)
        return 1
    return 0
