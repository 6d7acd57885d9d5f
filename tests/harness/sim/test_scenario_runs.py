"""Scripted scenario runs (`harness.sim.scenario_runs`) and the scheduled faults they use."""

from __future__ import annotations

import pytest

from harness.runtime.chooser import Chooser
from harness.sim.nemesis_options import ScheduledFault
from harness.sim.network import Network, NetworkOptions, shape_links
from harness.sim.runner import simulate
from harness.sim.scenario_runs import (
    FAULT_AT_US,
    SCENARIOS,
    WINDOW_US,
    run_scenario,
    scenario_options,
    schedule,
    split_protocol,
    unavailable_in,
    write_latencies,
)


def test_unavailable_in_counts_only_uncovered_time() -> None:
    assert unavailable_in([], 0, 100) == 100
    assert unavailable_in([(0, 100)], 0, 100) == 0
    assert unavailable_in([(-50, 30), (60, 200)], 0, 100) == 30  # the gap [30, 60)
    # overlapping and unordered intervals are not counted twice
    assert unavailable_in([(50, 80), (10, 60), (20, 30)], 0, 100) == 30
    assert unavailable_in([(100, 200)], 0, 100) == 100  # half-open: touches, covers nothing


def test_write_latencies_pair_invokes_with_ok_writes_only() -> None:
    history = (
        {"process": 0, "type": "invoke", "f": "put", "time": 1_000_000},
        {"process": 1, "type": "invoke", "f": "get", "time": 1_500_000},
        {"process": 0, "type": "ok", "f": "put", "time": 4_000_000},
        {"process": 1, "type": "ok", "f": "get", "time": 9_000_000},
        {"process": 0, "type": "invoke", "f": "cas", "time": 5_000_000},
        {"process": 0, "type": "info", "f": "cas", "time": 7_000_000},
        {"process": 1, "type": "invoke", "f": "append", "time": 10_000_000},
        {"process": 1, "type": "ok", "f": "append", "time": 12_000_000},
    )
    assert write_latencies(history) == (3_000, 2_000)
    # only writes invoked in the window: the put at 1 ms is before it, the append inside
    assert write_latencies(history, 2_000, 20_000) == (2_000,)
    assert write_latencies(history, 0, 10_000) == (3_000,)


def test_leader_cut_cuts_one_follower_from_the_leader_only() -> None:
    chooser = Chooser(7)
    links, text = shape_links("leader-cut", (0, 1, 2), chooser.choose, leader=1)
    cut = {a for a, b in {(0, 1), (1, 0), (1, 2), (2, 1)} - set(links)} - {1}
    assert len(cut) == 1
    other = ({0, 2} - cut).pop()
    assert {(1, other), (other, 1), (0, 2), (2, 0)} <= set(links)
    assert len(links) == 4 and text.startswith("leader-cut")


def test_degrade_loses_only_the_gray_nodes_packets() -> None:
    net = Network((0, 1, 2), NetworkOptions(one_way_delay_jitter_us=0), Chooser(1))
    net.degrade(0, 1.0, 0)
    assert net.transmit(0, 1) == () and net.transmit(2, 0) == ()
    assert net.transmit(1, 2) == (100,)
    net.degrade(0, 0.0, 5_000)
    assert net.transmit(0, 1) == (5_100,) and net.transmit(1, 2) == (100,)
    net.restore()
    assert net.transmit(0, 1) == (100,)


def test_unknown_scenario_and_fault_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        schedule("meteor")
    with pytest.raises(ValueError):
        ScheduledFault(at_us=0, fault="meteor")


def test_clock_drift_puts_the_leader_at_minus_rho_and_the_rest_at_plus_rho() -> None:
    options, sim_options, _ = scenario_options("multipaxos", "clock-drift", 1)
    sim = simulate(options, sim_options=sim_options)
    rho = sim.timing.drift_bound_ppm
    drifts = sorted(sim.clocks[n].drift_ppm for n in sim.group.members)
    assert drifts == [-rho, rho, rho]
    faults = [e for e in sim.checks.timeline if e["kind"] == "fault"]
    assert faults[0]["time_us"] == FAULT_AT_US and "-10000ppm" in faults[0]["detail"]


def test_leader_crash_is_measured_as_unavailability() -> None:
    """The measure must see an outage: a crashed leader leaves no one serving for at least
    an election timeout, while a cut that spares the leader's quorum costs nothing."""
    crash = run_scenario("multipaxos", "leader-crash", 0)
    assert crash.verdict == "ok" and crash.fault_at_us == FAULT_AT_US
    assert crash.unavailable_us is not None and 500_000 <= crash.unavailable_us < WINDOW_US
    assert crash.elections >= 2
    assert crash.write_latencies_us and crash.messages > 0
    cut = run_scenario("multipaxos", "partial-partition", 0)
    assert cut.verdict == "ok" and cut.unavailable_us == 0 and cut.elections == 1
    # a fixed-leader protocol never fails over: the whole window is unavailable
    fixed = run_scenario("example", "leader-crash", 0)
    assert fixed.unavailable_us == WINDOW_US


def test_replica_loss_without_spares_says_so() -> None:
    r = run_scenario("example", "replica-loss", 0)
    assert r.note is not None and "no spares" in r.note
    assert run_scenario("multipaxos", "replica-loss", 0).note is None


def test_a_compared_protocol_may_be_a_variant() -> None:
    assert split_protocol("raft:no-check-quorum") == ("raft", "no-check-quorum")
    assert split_protocol("raft") == ("raft", None)
    options, _, _ = scenario_options("raft:no-prevote", "leader-crash", 4)
    assert (options.protocol, options.variant, options.seed) == ("raft", "no-prevote", 4)
    with pytest.raises(ValueError, match="unknown variant"):
        scenario_options("raft:fast", "leader-crash", 0)


def test_every_scenario_has_a_schedule() -> None:
    for scenario in SCENARIOS:
        assert schedule(scenario).at_us == FAULT_AT_US
