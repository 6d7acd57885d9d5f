"""The liveness deadline follows from the work left: elections, detection, data to copy."""

from __future__ import annotations

import json

import attrs
import pytest

from consensus import Timing
from harness.cli import main
from harness.sim import SimOptions, run
from harness.sim.deadline import LivenessBound, copy_us, election_us
from harness.sim.links import Links
from harness.sim.runspec import RunOptions
from harness.sim.scenarios import ReplicaLossOptions, run_replica_loss
from tests.harness.runtime.test_host import standin_backend
from tests.harness.sim.test_sim import STANDIN, NeverServes


def test_election_time_covers_two_timeouts_and_a_lease_wait_at_the_slowest_rate() -> None:
    t = Timing()
    local = 2 * (t.election_timeout_us + t.election_jitter_us) + t.lease_duration_us
    assert election_us(t) > local  # scaled by rho both ways
    assert election_us(attrs.evolve(t, drift_bound_ppm=0)) == local


def test_copy_time_is_backlog_plus_snapshots_over_bandwidth() -> None:
    assert copy_us(None, 0, 10**9, 1) == 0  # packets without size cost no time
    links = Links(bandwidth_mb_s=100.0)
    assert copy_us(links, 0, 100_000_000, 1) == 1_000_000
    assert copy_us(links, 0, 100_000_000, 2) == 2_000_000
    links.free_at_us[(0, 3)] = 5_000_000  # a transfer already queued until 5 s
    assert copy_us(links, 1_000_000, 100_000_000, 1) == 4_000_000 + 1_000_000
    assert copy_us(links, 9_000_000, 0, 0) == 0  # a backlog in the past is none
    assert copy_us(Links(bandwidth_mb_s=1e-9), 0, 1, 1) == 1_000_000_000  # a trickle


def test_bound_total_and_description_name_every_part() -> None:
    b = LivenessBound(settle_us=1, election_us=20, detector_us=300, copy_us=4000)
    assert b.total_us == 4321
    assert "settle 1us" in b.describe() and "copy 4000us" in b.describe()


def test_a_run_that_never_converges_still_fails_at_the_derived_deadline() -> None:
    backend = attrs.evolve(
        standin_backend(),
        make_replica=lambda **kw: NeverServes(kw["node_id"], kw["members"], kw["records"]),
    )
    result = run(RunOptions(seed=4, ops=20, faults=()), backend=backend,
                 sim_options=attrs.evolve(STANDIN, liveness_bound_us=1_000_000))
    assert result.violation is not None and result.violation.property == "liveness"
    allowed = 1_000_000 + election_us(backend.timing)
    assert result.violation.time_us >= allowed
    assert result.violation.time_us < allowed + 2 * SimOptions().liveness_check_us + 10_000_000
    assert f"not converged {allowed}us" in result.violation.message


def test_slow_link_rebuild_longer_than_the_settle_allowance_converges() -> None:
    # 60 MB at 2 MB/s is 30 s of copying: far beyond the 10 s a fixed bound allowed.
    r = run_replica_loss(ReplicaLossOptions(data_mb=60, bandwidth_mb_s=2.0, ops=300))
    assert r.violation is None
    assert r.quorum_restored_after is not None and r.replica_rebuilt_after is not None
    assert r.quorum_restored_after < 2.0
    assert 30.0 <= r.replica_rebuilt_after < 40.0


def test_cli_ten_gigabytes_at_100_mb_s_passes_and_reports_both_times(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["run", "--scenario", "replica-loss", "--data-mb", "10000", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and out["violation"] is None
    assert 0 < out["quorum_restored_after"] < 2.0
    assert 100.0 <= out["replica_rebuilt_after"] < 110.0  # 10 GB at 100 MB/s
