"""harness.sim with the real replica and storage: fault sweeps pass, runs are reproducible."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.sim import run
from harness.sim.runspec import DEFAULT_FAULTS, RunOptions

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("seed", range(8))
def test_small_sample_of_seeds_with_all_faults_passes(seed: int) -> None:
    result = run(RunOptions(seed=seed, ops=300), keep_trace=False)
    assert result.violation is None, result.violation
    assert sum(result.ops.values()) == 300
    assert result.ops["ok"] > 150
    faults = [t for t in result.timeline if t["kind"] == "fault"]
    assert any(t["fault"] == "liveness" for t in faults)


def test_sample_covers_every_fault_kind() -> None:
    wanted = {"partition", "crash", "pause", "clock-step", "loss", "restart", "resume"}
    kinds: set[str] = set()
    for seed in range(20):  # the first seeds that together draw every kind
        result = run(RunOptions(seed=seed, ops=400), keep_trace=False)
        kinds |= {t["fault"] for t in result.timeline if t["kind"] == "fault"}
        if wanted <= kinds:
            break
    assert wanted <= kinds, f"missing in 20 seeds: {sorted(wanted - kinds)}"


def test_same_seed_same_run_and_replay_repeats_it() -> None:
    options = RunOptions(seed=21, ops=150)
    first = run(options)
    second = run(options)
    assert first.fingerprint == second.fingerprint and first.trace == second.trace
    assert first.history == second.history and first.choices == second.choices
    assert run(RunOptions(seed=22, ops=150)).fingerprint != first.fingerprint
    replayed = run(options, replay=first.choices)
    assert replayed.fingerprint == first.fingerprint


def test_fingerprint_identical_across_processes_and_hash_seeds() -> None:
    prints = []
    for hash_seed in ("0", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        out = subprocess.run(
            [sys.executable, "-m", "harness", "run", "--seed", "5", "--ops", "150", "--json"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        prints.append(json.loads(out.stdout)["fingerprint"])
    assert prints[0] == prints[1] == run(RunOptions(seed=5, ops=150)).fingerprint


def test_unsafe_clock_runs_are_labelled() -> None:
    result = run(RunOptions(seed=1, ops=100, faults=("clock",), unsafe_clocks=True))
    assert result.unsafe
    assert not run(RunOptions(seed=1, ops=100, faults=("clock",))).unsafe


def test_history_is_recorded_in_design_format() -> None:
    result = run(RunOptions(seed=3, ops=80, faults=()))
    assert result.ops["info"] == 0
    events = result.history
    assert {e["type"] for e in events} <= {"invoke", "ok", "fail", "info"}
    assert all(set(e) >= {"process", "type", "f", "key", "value", "time"} for e in events)
    times = [e["time"] for e in events]
    assert times == sorted(times)
    final = [e for e in events if e["process"] == 5 and e["type"] == "ok"]
    assert [e["key"] for e in final] == [f"k{i}" for i in range(5)]


def test_cli_run_prints_seed_first_then_verdict(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--seed", "2", "--ops", "60", "--faults", "none"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("paxlab run: seed=2 ")
    assert lines[1] == "verdict: PASSED"
    assert lines[2].startswith("ops: ok=")
    assert lines[-1].startswith("fingerprint: ")


def test_cli_run_json_and_violation_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--seed", "0", "--ops", "100", "--variant", "quorum-one", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["verdict"] == "violation" and data["violation"]["property"] in ("S1", "S4")
    assert set(data) >= {"seed", "verdict", "violation", "ops", "sim_time", "wall_time"}
    assert main(["run", "--seed", "0", "--ops", "100", "--variant", "quorum-one"]) == 1
    out = capsys.readouterr().out
    assert "replay: paxlab run --seed 0 " in out and "--variant quorum-one" in out


def test_all_faults_is_the_default() -> None:
    assert RunOptions().faults == DEFAULT_FAULTS


@settings(max_examples=5)
@given(choices=st.lists(st.integers(0, 2**20), max_size=300))
def test_arbitrary_choice_lists_run_safely(choices: list[int]) -> None:
    result = run(RunOptions(seed=0, ops=40), replay=choices, keep_trace=False)
    assert result.violation is None, result.violation
