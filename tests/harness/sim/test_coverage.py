"""harness.sim.coverage and consensus probes in simulated runs: a probe fires where its path
runs, and counting changes nothing about the run."""

from __future__ import annotations

from harness.sim import SimOptions, run
from harness.sim.coverage import add_counts, empty_coverage
from harness.sim.runspec import RunOptions


def test_faulty_run_reports_what_it_exercised() -> None:
    result = run(RunOptions(seed=0), keep_trace=False)
    cov = result.coverage
    assert set(cov) == set(empty_coverage())
    assert cov["leader_changes"] >= 1
    assert sum(cov["partitions"].values()) >= 1 and cov["crashes"] >= 1
    assert cov["info_ops"] == result.ops["info"]
    faults = [e for e in result.timeline if e["kind"] == "fault"]
    assert sum(cov["partitions"].values()) == sum(1 for e in faults if e["fault"] == "partition")
    assert cov["cas_observed"] == sum(1 for e in result.history if "observed" in e)
    assert result.probes["follower.gray-check"] >= 1  # leaders changed: someone timed out
    assert result.probes["leader.lease-wait"] >= 1


def test_fault_free_run_exercises_little() -> None:
    result = run(RunOptions(seed=0, ops=100, faults=()), keep_trace=False)
    cov = result.coverage
    assert cov["leader_changes"] == 1 and cov["crashes"] == 0 and cov["info_ops"] == 0
    assert sum(cov["partitions"].values()) == 0 and cov["client_crashes"] == 0
    assert result.probes["leader.check-quorum-step-down"] == 0
    assert result.probes["client.refused-log-replica"] == 0


def test_log_replica_probe_fires_only_with_log_replicas() -> None:
    options = RunOptions(seed=1, ops=150, faults=())
    with_logs = run(options, keep_trace=False, sim_options=SimOptions(log_replicas=1))
    assert with_logs.probes["client.refused-log-replica"] == with_logs.coverage[
        "log_reads_refused"] > 0
    assert run(options, keep_trace=False).probes["client.refused-log-replica"] == 0


def test_healing_fires_membership_probes() -> None:
    result = run(RunOptions(seed=2, ops=300, faults=("permanent",)), keep_trace=False)
    assert result.verdict == "ok", result.violation
    assert result.coverage["permanent_failures"] == 1
    assert result.probes["leader.healing-planned"] >= 1
    assert result.probes["membership.change-proposed"] >= 1
    assert result.coverage["log_replicas_added"] + result.coverage["storage_replicas_added"] >= 1


def test_probe_counts_are_per_run_and_deterministic() -> None:
    options = RunOptions(seed=5, ops=200)
    first = run(options, keep_trace=False)
    run(RunOptions(seed=6, ops=200), keep_trace=False)  # counts of another run in between
    again = run(options, keep_trace=False)
    assert first.probes == again.probes and first.coverage == again.coverage
    assert first.fingerprint == again.fingerprint


def test_add_counts_sums_nested() -> None:
    total = add_counts({}, {"a": 1, "d": {"x": 2}})
    add_counts(total, {"a": 2, "d": {"x": 1, "y": 4}, "b": 0})
    assert total == {"a": 3, "d": {"x": 3, "y": 4}, "b": 0}
