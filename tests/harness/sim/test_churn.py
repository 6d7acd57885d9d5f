"""The ``churn`` fault (Raft only): leaders crash in the middle of their sends and come back
soon. The correct Raft passes it; ``commit-old-term`` fails it with S17 (leader
completeness, the Raft paper's Figure 8) found by the simulator on its own."""

from __future__ import annotations

import pytest

from harness.sim import run
from harness.sim.runspec import RunOptions


def test_multipaxos_refuses_churn_and_an_unknown_fault_is_named() -> None:
    with pytest.raises(ValueError, match="protocol multipaxos does not tolerate fault churn"):
        RunOptions(faults=("churn",))
    with pytest.raises(ValueError, match=r"unknown fault 'chrun'.*churn"):
        RunOptions(protocol="raft", faults=("chrun",))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_correct_raft_passes_churn_with_many_short_terms(seed: int) -> None:
    result = run(RunOptions(seed=seed, protocol="raft", faults=("churn",)), keep_trace=False)
    assert result.verdict == "ok", result.violation
    assert result.crash_points.get("mid-send", 0) >= 5
    elections = [e for e in result.timeline
                 if e["kind"] == "leader" and e["event"] == "elected"]
    assert len(elections) >= 5
    crashed = [e for e in result.timeline if e["kind"] == "fault" and e["fault"] == "crash"]
    assert all("crash point mid-send" in e["detail"] for e in crashed)  # churn crashes only


def test_churn_is_deterministic_and_leaves_other_runs_alone() -> None:
    options = RunOptions(seed=3, protocol="raft", faults=("churn",), ops=200)
    assert run(options, keep_trace=False).fingerprint == run(options,
                                                             keep_trace=False).fingerprint
    plain = run(RunOptions(seed=3, protocol="raft", faults=("crash",), ops=200),
                keep_trace=False)
    assert "mid-send" not in plain.crash_points


MIX = ("churn", "partition", "loss", "pause")


@pytest.mark.parametrize(("seed", "faults"), [(23, ("churn",)), (17, MIX)])
def test_commit_old_term_is_caught_with_s17_by_churn(seed: int, faults: tuple[str, ...]) -> None:
    result = run(RunOptions(seed=seed, protocol="raft", variant="commit-old-term",
                            faults=faults), keep_trace=False)
    assert result.violation is not None and result.violation.property == "S17"
    assert "without the committed entry" in result.violation.message
    correct = run(RunOptions(seed=seed, protocol="raft", faults=faults), keep_trace=False)
    assert correct.verdict == "ok", correct.violation


@pytest.mark.slow
def test_commit_old_term_is_caught_within_100_seeds_and_correct_raft_passes() -> None:
    caught = [seed for seed in range(100)
              if (v := run(RunOptions(seed=seed, protocol="raft", variant="commit-old-term",
                                      faults=MIX), keep_trace=False).violation)
              is not None and v.property == "S17"]
    assert caught == [9, 17, 39, 71]
    for seed in range(50):
        result = run(RunOptions(seed=seed, protocol="raft", faults=MIX), keep_trace=False)
        assert result.verdict == "ok", (seed, result.violation)
