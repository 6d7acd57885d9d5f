"""Adversarial message timing (the ``adversarial`` fault): holds of seconds, late copies,
replays of old messages, held messages of a paused node spread among new traffic. The faults
happen (counted), runs stay deterministic, and choice 0 is the nominal path."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

from harness.runtime.chooser import Chooser
from harness.sim import run
from harness.sim.network import Network, NetworkOptions, TimingAttack
from harness.sim.runspec import DEFAULT_FAULTS, FAULTS, RunOptions, RunResult

ROOT = Path(__file__).resolve().parents[3]
NODES = (1, 2, 3, 4, 5)
ADVERSARIAL = (*DEFAULT_FAULTS, "adversarial")
ATTACK = TimingAttack(hold_probability=0.5, late_duplicate_probability=0.5,
                      max_hold_us=2_000_000, resume_spread_us=100_000)


def test_adversarial_is_a_fault_kind_outside_the_default_set() -> None:
    assert "adversarial" in FAULTS and "adversarial" not in DEFAULT_FAULTS
    assert RunOptions(faults=ADVERSARIAL).faults == ADVERSARIAL


def test_nominal_choices_under_attack_deliver_once_at_minimum_delay() -> None:
    chooser = Chooser.replaying([])
    net = Network(NODES, NetworkOptions(), chooser)
    net.attack = ATTACK
    assert [net.transmit_attacked(1, 2) for _ in range(20)] == [(100,)] * 20
    assert net.resume_delay() == 0
    assert set(chooser.choices) == {0}
    assert net.attack_counts == {"held": 0, "late-duplicates": 0, "replayed": 0, "spread": 0}


def test_holds_and_late_copies_happen_within_bounds_and_only_under_attack() -> None:
    chooser = Chooser(4)
    net = Network(NODES, NetworkOptions(), chooser)
    calm = [net.transmit_attacked(1, 2) for _ in range(200)]
    assert all(len(d) == 1 and d[0] <= 500 for d in calm)
    net.attack = ATTACK
    stormy = [net.transmit_attacked(1, 2) for _ in range(400)]
    held = [d for d in stormy if d[0] > 500]
    copies = [d for d in stormy if len(d) == 2]
    assert 120 < len(held) < 280 and 120 < len(copies) < 280
    assert net.attack_counts["held"] == len(held)
    assert net.attack_counts["late-duplicates"] == len(copies)
    assert max(d[0] for d in held) > 1_000_000  # seconds, past elections and leases
    assert all(d[0] <= 500 + 2_000_000 for d in stormy)
    assert all(d[1] > d[0] for d in copies)
    spread = [net.resume_delay() for _ in range(100)]
    assert max(spread) <= 100_000 and net.attack_counts["spread"] == sum(1 for s in spread if s)
    net.attack = None
    assert net.resume_delay() == 0


def test_history_spans_the_whole_run_evenly_and_stays_bounded() -> None:
    net = Network(NODES, NetworkOptions(), Chooser(0))
    net.remember(1, 2, "ignored")  # history_size 0: nothing kept
    assert net.history == []
    net.history_size = 16
    for i in range(1000):
        net.remember(1, 2, i)
    kept = [m for _, _, m in net.history]
    assert len(kept) < 16 and kept[0] == 0 and kept[-1] > 800
    gaps = {b - a for a, b in itertools.pairwise(kept)}
    assert len(gaps) == 1  # evenly spread


def _adversarial_run(seed: int, **kw: object) -> RunResult:
    options = RunOptions(seed=seed, ops=300, replicas=5, faults=ADVERSARIAL)
    return run(options, keep_trace=False, **kw)  # type: ignore[arg-type]


def _counts(result: RunResult) -> dict[str, int]:
    timely = [t["detail"] for t in result.timeline if t.get("fault") == "timely"]
    assert timely, "no adversarial period ended"
    return {k: int(v) for k, v in re.findall(r"([a-z-]+)=(\d+)", timely[-1])}


def test_adversarial_faults_happen_in_a_run() -> None:
    result = _adversarial_run(1)
    faults = [t["fault"] for t in result.timeline if t["kind"] == "fault"]
    assert "adversarial" in faults and "replay" in faults
    counts = _counts(result)
    assert counts["held"] > 0 and counts["late-duplicates"] > 0 and counts["replayed"] > 0


def test_adversarial_runs_are_deterministic_and_replayable() -> None:
    first, again = _adversarial_run(2), _adversarial_run(2)
    assert first.fingerprint == again.fingerprint and first.choices == again.choices
    assert _adversarial_run(2, replay=first.choices).fingerprint == first.fingerprint
    assert _adversarial_run(3).fingerprint != first.fingerprint


def test_all_zero_choices_inject_no_adversarial_timing() -> None:
    result = _adversarial_run(0, replay=[])
    faults = {t["fault"] for t in result.timeline if t["kind"] == "fault"}
    assert faults == {"liveness"}
    assert result.verdict == "ok", result.violation


_SCRIPT = (
    "from harness.sim import run\n"
    "from harness.sim.runspec import DEFAULT_FAULTS, RunOptions\n"
    "o = RunOptions(seed=2, ops=300, replicas=5, faults=(*DEFAULT_FAULTS, 'adversarial'))\n"
    "print(run(o, keep_trace=False).fingerprint)\n"
)


def test_fingerprint_is_the_same_across_processes_and_hash_seeds() -> None:
    prints = []
    for hash_seed in ("3", "31337"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(ROOT)}
        out = subprocess.run([sys.executable, "-c", _SCRIPT], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=True, timeout=120)
        prints.append(out.stdout.strip())
    assert prints[0] == prints[1] == _adversarial_run(2).fingerprint


def test_the_seed_that_found_catch_up_above_the_promise_passes() -> None:
    # Before the consensus fix this run failed S15: a follower still promised to an older
    # ballot stored a catch-up entry of a newer one (tests/consensus/test_stale_accept.py).
    options = RunOptions(seed=116, ops=1000, replicas=5, faults=ADVERSARIAL)
    result = run(options, keep_trace=False)
    assert result.verdict == "ok", result.violation


def test_new_leaders_are_told_to_step_down_and_coverage_counts_it() -> None:
    """A handover while the new leader still waits out its predecessor's lease: the grants it
    releases are then not the only ones running (``nemesis.stepdown``)."""
    handovers = 0
    for seed in range(1, 4):
        result = _adversarial_run(seed)
        told = [t for t in result.timeline if t["kind"] == "fault" and t["fault"] == "step-down"]
        assert result.coverage["handovers"] == len(told)
        handovers += len(told)
    assert handovers > 0
