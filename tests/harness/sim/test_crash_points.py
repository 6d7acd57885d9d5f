"""Crashes inside a step (crash points) in simulated runs: they fire, within the budget, are
counted in the run result and on the timeline, and runs stay correct and deterministic."""

from __future__ import annotations

from collections import Counter

import attrs

from harness.runtime.host import CRASH_POINTS
from harness.sim import SimOptions, run
from harness.sim.nemesis import CrashOptions, NemesisOptions
from harness.sim.runspec import RunOptions


def test_every_crash_point_fires_in_a_few_default_runs_and_they_pass() -> None:
    fired: Counter[str] = Counter()
    torn = 0
    for seed in range(10):
        r = run(RunOptions(seed=seed), keep_trace=False)
        assert r.verdict == "ok", (seed, r.violation)
        fired.update(r.crash_points)
        details = [t["detail"] for t in r.timeline if t.get("fault") == "crash"]
        in_step = [d for d in details if d.startswith("crash point ")]
        assert len(in_step) == sum(r.crash_points.values())
        torn += sum("crash point mid-append" in d for d in in_step)
    assert set(fired) == set(CRASH_POINTS), fired
    assert torn > 0


def test_crash_points_respect_the_fault_budget_and_need_the_crash_fault() -> None:
    eager = SimOptions(nemesis=NemesisOptions(crash=CrashOptions(
        probability=0.0, point_probability=0.05, checkpoint_probability=1.0)))
    r = run(RunOptions(seed=3, ops=300), sim_options=eager, keep_trace=False)
    assert r.verdict == "ok", r.violation
    assert sum(r.crash_points.values()) > 3
    down: set[int] = set()
    for t in r.timeline:  # never more than f = 1 of 3 nodes down at once
        if t.get("fault") in ("crash", "pause"):
            down.update(t["nodes"])
        elif t.get("fault") in ("restart", "resume"):
            down.difference_update(t["nodes"])
        assert len(down) <= 1, t
    no_crash = RunOptions(seed=3, ops=300, faults=("partition", "pause", "clock", "loss"))
    assert run(no_crash, sim_options=eager, keep_trace=False).crash_points == {}


def test_the_same_seed_fires_the_same_crash_points() -> None:
    options = RunOptions(seed=1, ops=400)
    a, b = run(options, keep_trace=False), run(options, keep_trace=False)
    assert a.crash_points and a.crash_points == b.crash_points
    assert a.fingerprint == b.fingerprint
    c = run(options, replay=a.choices, keep_trace=False)
    assert attrs.evolve(c, wall_time_s=0) == attrs.evolve(a, wall_time_s=0)


def test_wal_tail_flips_on_corrupting_nodes_end_in_refused_recovery_within_budget() -> None:
    hits = 0
    for seed in range(25):
        r = run(RunOptions(seed=seed, ops=300), keep_trace=False)
        assert r.verdict == "ok", (seed, r.violation)
        flips = [t for t in r.timeline if "bit flip in the last" in t.get("detail", "")]
        for flip in flips:
            hits += 1
            later = [t for t in r.timeline if t["time_us"] >= flip["time_us"]
                     and t.get("fault") == "restart" and t["nodes"] == flip["nodes"]]
            assert later and "storage failed recovery" in later[0]["detail"], later
    assert hits >= 3


def test_runs_with_crash_points_still_validate_against_the_tla_trace_rules() -> None:
    import io
    import logging

    from harness.tla.tracevalid.record import run_traced
    from harness.tla.tracevalid.validate import validate_lines

    logging.getLogger().setLevel(logging.CRITICAL)
    fired: Counter[str] = Counter()
    for seed in range(16):
        buf = io.StringIO()
        r = run_traced(RunOptions(seed=seed, ops=60, clients=3), buf)
        fired.update(r.crash_points)
        verdict = validate_lines(buf.getvalue().splitlines())
        assert verdict.ok, (seed, r.crash_points, verdict)
    assert sum(fired.values()) >= 3, fired


_SCRIPT = (
    "from harness.sim.runspec import RunOptions\n"
    "from harness.sim import run\n"
    "r = run(RunOptions(seed=5, ops=300), keep_trace=False)\n"
    "print(r.fingerprint, sorted(r.crash_points.items()))\n"
)


def test_default_runs_with_crash_points_and_knobs_agree_across_processes_and_hash_seeds(
) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    outs = []
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(root)}
        done = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, cwd=root,
                              capture_output=True, text=True, check=True, timeout=120)
        outs.append(done.stdout.strip())
    here = run(RunOptions(seed=5, ops=300), keep_trace=False)
    assert outs[0] == outs[1] == f"{here.fingerprint} {sorted(here.crash_points.items())}"


def test_stand_in_disks_are_never_armed() -> None:
    from tests.harness.runtime.test_host import standin_backend

    eager = SimOptions(online_invariants=False, nemesis=NemesisOptions(crash=CrashOptions(
        probability=0.0, point_probability=0.2, checkpoint_probability=1.0)))
    r = run(RunOptions(seed=1, ops=60), backend=standin_backend(), sim_options=eager,
            keep_trace=False)
    assert r.verdict == "ok", r.violation
    assert r.crash_points and not {"torn-append", "mid-checkpoint"} & set(r.crash_points)
