"""`paxlab run` and `paxlab sweep` exit 3 when no violation was found but a check could not
decide (the linearizability budget ran out), and never count that as a pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import harness.failures.sweep
import harness.sim.workload
from harness.checks.linearizability import LinearizabilityResult
from harness.cli import EXIT_UNKNOWN, main
from harness.sim import SimOptions, run
from harness.sim.runspec import RunOptions
from tests.harness.failures.fakerun import failing_seeds, undecided_run


@pytest.fixture
def checker_undecided(monkeypatch: pytest.MonkeyPatch) -> None:
    """The linearizability checker answers "unknown" (as when its budget runs out)."""

    def undecided(history: Any, model: Any, **kw: Any) -> LinearizabilityResult:
        return LinearizabilityResult(
            verdict="unknown", key="k0", reason="timeout after timeout_s=0", unknown_keys=("k0",)
        )

    monkeypatch.setattr(harness.sim.workload, "check_linearizability", undecided)


def test_tiny_checker_budget_gives_unknown_verdict() -> None:
    options = RunOptions(seed=1, ops=200, faults=())
    decided = run(options, keep_trace=False)
    assert decided.verdict == "ok" and decided.passed and decided.unknown is None
    starved = run(
        options, keep_trace=False, sim_options=SimOptions(linearizability_timeout_s=0.0)
    )
    assert starved.verdict == "unknown" and not starved.passed
    assert starved.violation is None
    assert starved.unknown is not None and "timeout" in starved.unknown
    assert starved.fingerprint == decided.fingerprint  # the run itself is the same


def test_run_exits_3_on_unknown(
    checker_undecided: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--seed", "2", "--ops", "30", "--faults", "none"]) == EXIT_UNKNOWN
    out = capsys.readouterr().out
    assert "verdict: UNKNOWN" in out and "PASSED" not in out
    assert "timeout after timeout_s=0" in out
    assert main(["run", "--seed", "2", "--ops", "30", "--faults", "none", "--json"]) == 3
    data = json.loads(capsys.readouterr().out)
    assert data["verdict"] == "unknown" and data["violation"] is None
    assert "timeout" in data["unknown"]


def test_sweep_of_real_runs_exits_3_and_counts_unknown(
    checker_undecided: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["sweep", "--seeds", "0:2", "-j", "1", "--ops", "20", "--faults", "none",
            "--out", str(tmp_path)]
    assert main(argv) == EXIT_UNKNOWN
    out = capsys.readouterr().out
    assert "seeds run: 2, passed: 0, failed: 0, unknown: 2" in out
    assert "PASSED" not in out and "UNKNOWN (not passed)" in out
    assert "paxlab run --seed 0 --ops 20 --faults none" in out
    assert main([*argv, "--json"]) == EXIT_UNKNOWN
    data = json.loads(capsys.readouterr().out)
    assert (data["passed"], data["failed"], data["unknown"]) == (0, 0, 2)


def test_sweep_failure_wins_over_unknown(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(harness.failures.sweep, "default_run", undecided_run)
    bad = set(failing_seeds(12))
    assert bad
    code = main(["sweep", "--seeds", "0:12", "-j", "1", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1
    unknown = len([s for s in range(12) if s not in bad and s % 3 == 0])
    assert f"failed: {len(bad)}, unknown: {unknown}" in out
    good = [s for s in range(30) if s not in set(failing_seeds(30)) and s % 3 == 0]
    one = f"{good[0]}:{good[0] + 1}"
    assert main(["sweep", "--seeds", one, "-j", "1", "--out", str(tmp_path)]) == 3
