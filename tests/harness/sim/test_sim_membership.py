"""Membership in the trio simulator: permanent failures, spares started by healing, S12/S13.

With the ``permanent`` fault the group has a log spare and a storage spare; a leader that
stops hearing a storage replica adds the log spare, rebuilds a storage spare and removes the
log spare again. These runs must stay safe, converge healed, and repeat bit for bit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.sim import run, simulate
from harness.sim.runspec import FAULTS, RunOptions


def _faults(result: Any, name: str) -> list[dict[str, Any]]:
    return [e for e in result.timeline if e["kind"] == "fault" and e["fault"] == name]


def _leader_down_during_change(timeline: tuple[dict[str, Any], ...], t0: int) -> bool:
    leader = None
    for e in timeline:
        if e["kind"] == "leader":
            if e["event"] in ("elected", "serving"):
                leader = e["node"]
            elif leader == e["node"]:
                leader = None
        elif (e["fault"] in ("crash", "permanent", "pause") and leader in e["nodes"]
              and t0 <= e["time_us"] <= t0 + 2_000_000):
            return True
    return False


def test_default_group_has_no_spares() -> None:
    sim = simulate(RunOptions(seed=1, ops=20))
    assert sim.members == (0, 1, 2)
    assert "permanent" not in RunOptions().faults


def test_permanent_failure_is_healed_by_spares() -> None:
    sim = simulate(RunOptions(seed=0, faults=FAULTS))
    assert sim.final_check() is None
    dead = [n for n, s in sim.status.items() if s == "dead"]
    assert dead == [2]
    assert sim.status[3] == "up" and sim.status[4] == "up"  # both spares were started
    leaders = [h.replica for h in sim.hosts.values()
               if h.replica is not None and h.replica.role.value == "leader"]
    committed = leaders[0].committed_membership
    assert 2 not in committed.voters  # replaced
    assert 4 in committed.storage and committed.logs == ()  # rebuilt; log spare removed


@pytest.mark.parametrize("seed", range(8))
def test_runs_with_permanent_failures_are_safe(seed: int) -> None:
    result = run(RunOptions(seed=seed, faults=FAULTS), keep_trace=False)
    assert result.verdict == "ok", result.violation
    assert _faults(result, "start"), "healing never started a spare"


def test_permanent_runs_repeat_bit_for_bit() -> None:
    options = RunOptions(seed=2, faults=FAULTS, ops=300)
    first = run(options, keep_trace=False)
    assert _faults(first, "permanent")
    assert run(options, keep_trace=False).fingerprint == first.fingerprint
    assert run(options, replay=first.choices, keep_trace=False).fingerprint == first.fingerprint


_SCRIPT = (
    "from harness.sim.runspec import FAULTS, RunOptions\n"
    "from harness.sim import run\n"
    "print(run(RunOptions(seed=2, faults=FAULTS, ops=300), keep_trace=False).fingerprint)\n"
)


def test_permanent_runs_are_the_same_across_processes_and_hash_seeds() -> None:
    root = Path(__file__).resolve().parents[3]
    prints = []
    for hash_seed in ("1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(root)}
        out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, cwd=root,
                             capture_output=True, text=True, check=True)
        prints.append(out.stdout.strip())
    here = run(RunOptions(seed=2, faults=FAULTS, ops=300), keep_trace=False).fingerprint
    assert prints == [here, here]


def test_one_step_swap_is_caught_within_500_seeds() -> None:
    for seed in range(500):
        options = RunOptions(seed=seed, faults=FAULTS, variant="one-step-swap", ops=300)
        result = run(options, keep_trace=False)
        if result.violation is not None:
            break
    assert result.violation is not None, "one-step-swap survived 500 seeds"
    assert result.violation.property == "S12"
    assert "quorums need not intersect" in result.violation.message


@pytest.mark.slow
def test_200_seeds_with_permanent_failures_and_faults_during_changes() -> None:
    permanent = during_partition = leader_down = 0
    for seed in range(200):
        result = run(RunOptions(seed=seed, faults=FAULTS), keep_trace=False)
        assert result.verdict == "ok", (seed, result.violation)
        starts = _faults(result, "start")
        permanent += bool(_faults(result, "permanent"))
        if not starts:
            continue
        t0 = starts[0]["time_us"]
        during_partition += any(t0 <= e["time_us"] <= t0 + 2_000_000
                                for e in _faults(result, "partition"))
        leader_down += _leader_down_during_change(result.timeline, t0)
    # the sweep must actually exercise what it claims to
    assert permanent >= 50 and during_partition >= 50 and leader_down >= 5, (
        permanent, during_partition, leader_down)
