"""The replica-loss scenario: the log replica restores the quorum long before the rebuild."""

from __future__ import annotations

import json
import re

import pytest

from harness.cli import main
from harness.sim.scenarios import ReplicaLossOptions, run_replica_loss


def test_replica_loss_with_100_mb_restores_quorum_well_before_rebuild() -> None:
    r = run_replica_loss(ReplicaLossOptions(data_mb=100, bandwidth_mb_s=100.0))
    assert r.failed_node in (0, 1, 2)
    assert r.quorum_restored_after is not None and r.replica_rebuilt_after is not None
    dead_after = r.options.replica_dead_after_s
    # detection (counted from the last reply, up to one heartbeat before the failure), then
    # milliseconds for the log replica; a second more to copy 100 MB
    assert dead_after - 0.1 <= r.quorum_restored_after < dead_after + 0.2
    assert r.replica_rebuilt_after >= dead_after + 1.0
    assert r.replica_rebuilt_after - r.quorum_restored_after >= 0.9
    # the log replica copied only the WAL suffix; the storage replica the 100 MB snapshot
    assert r.bytes_to_log_replica < 1_000_000 <= 100_000_000 <= r.bytes_to_new_storage_replica


def test_rebuild_time_grows_with_data_and_shrinks_with_bandwidth() -> None:
    small = run_replica_loss(ReplicaLossOptions(data_mb=10))
    big = run_replica_loss(ReplicaLossOptions(data_mb=200))
    fast = run_replica_loss(ReplicaLossOptions(data_mb=200, bandwidth_mb_s=400.0))
    assert small.replica_rebuilt_after is not None and big.replica_rebuilt_after is not None
    assert fast.replica_rebuilt_after is not None
    assert big.replica_rebuilt_after - small.replica_rebuilt_after > 1.5  # ~1.9 s more to copy
    assert fast.replica_rebuilt_after < big.replica_rebuilt_after - 1.0
    # the quorum does not wait for the data
    assert small.quorum_restored_after == pytest.approx(big.quorum_restored_after, abs=0.05)


def test_same_seed_same_result() -> None:
    a = run_replica_loss(ReplicaLossOptions(seed=7, data_mb=5))
    b = run_replica_loss(ReplicaLossOptions(seed=7, data_mb=5))
    assert a == b


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="data_mb"):
        ReplicaLossOptions(data_mb=-1)
    with pytest.raises(ValueError, match="bandwidth_mb_s"):
        ReplicaLossOptions(bandwidth_mb_s=0)


def test_cli_replica_loss_json(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--scenario", "replica-loss", "--data-mb", "100", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    assert out["scenario"] == "replica-loss" and out["options"]["data_mb"] == 100
    assert 0 < out["quorum_restored_after"] < out["replica_rebuilt_after"]


def test_cli_replica_loss_human(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--scenario", "replica-loss", "--data-mb", "1"]) == 0
    out = capsys.readouterr().out
    restored = re.search(r"quorum_restored_after: ([0-9.]+)s", out)
    assert restored is not None and 0.9 <= float(restored.group(1)) < 1.2  # about dead_after
    assert "replica_rebuilt_after: 1." in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scenario", "nope"], "unknown scenario 'nope'"),
        (["--scenario", "replica-loss", "--replicas", "0"], "at least one storage replica"),
        (["--scenario", "replica-loss", "--log-replicas", "4"], "more log replicas than"),
        (["--log-replicas", "1"], "needs --scenario"),
        (["--scenario", "replica-loss", "--data-mb", "-1"], "data_mb"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


@pytest.mark.parametrize("partition_s", [0.0, 0.3, 1.0])
def test_seeded_sweep_with_partitions_during_reconfiguration_finds_no_violation(
    partition_s: float,
) -> None:
    for seed in range(5):
        r = run_replica_loss(ReplicaLossOptions(seed=seed, data_mb=10, partition_s=partition_s))
        assert r.violation is None, (seed, r.violation)
        assert r.quorum_restored_after is not None and r.replica_rebuilt_after is not None


def test_one_step_swap_is_caught_as_s12(capsys: pytest.CaptureFixture[str]) -> None:
    r = run_replica_loss(ReplicaLossOptions(data_mb=1, variant="one-step-swap"))
    assert r.violation is not None and r.violation.property == "S12"
    assert r.to_json()["verdict"] == "violation"
    assert main(["run", "--scenario", "replica-loss", "--data-mb", "1",
                 "--variant", "one-step-swap"]) == 1
    assert "verdict: VIOLATION S12" in capsys.readouterr().out


@pytest.mark.parametrize(("changes", "message"), [
    ({"bandwidth_mb_s": 1e-300}, "bandwidth_mb_s must be >= 0.1"),
    ({"bandwidth_mb_s": 0.05}, "bandwidth_mb_s must be >= 0.1"),
    ({"data_mb": 10_000_000}, "takes 100,000 s of simulated time"),
])
def test_a_scenario_that_would_run_for_hours_is_refused(changes: dict[str, float],
                                                        message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ReplicaLossOptions(**changes)
