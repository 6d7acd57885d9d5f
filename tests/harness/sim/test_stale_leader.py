"""S19, a leader cut off steps down (`harness.sim.stale_leader`): the check on spans that must
pass and spans that must fail, and each built-in protocol through the simulator."""

from __future__ import annotations

import pytest

from harness.runtime import protocols
from harness.sim import run
from harness.sim.runspec import RunOptions
from harness.sim.stale_leader import StaleLeaders, stale_bound_us

BOUND = 1_000_000


class Links:
    """Working links, as `harness.sim.network.Network.link_up` answers."""

    def __init__(self) -> None:
        self.cut: set[int] = set()  # nodes cut off both ways
        self.mute: set[int] = set()  # nodes whose outgoing links are cut

    def up(self, src: int, dst: int) -> bool:
        return not ({src, dst} & self.cut) and src not in self.mute


def _watch() -> tuple[StaleLeaders, Links]:
    links = Links()
    return StaleLeaders((0, 1, 2), links.up, BOUND), links


def test_the_default_bound_covers_two_election_timeouts_a_slow_clock_and_a_clock_step() -> None:
    assert stale_bound_us(500_000, 50_000, 10_000, 20_000) == 1_141_213
    assert stale_bound_us(500_000, 50_000, 0, 0) == 1_100_000


def test_a_leader_cut_off_past_the_bound_is_s19() -> None:
    s, links = _watch()
    assert s.on_step(0, True, False, True, 0, 1) is None
    links.cut.add(0)
    assert s.on_step(0, True, False, False, 100_000, 2) is None  # first seen cut off
    assert s.on_step(0, True, False, False, 100_000 + BOUND, 3) is None  # at the bound
    v = s.on_step(0, True, False, False, 100_001 + BOUND, 4)
    assert v is not None and v.property == "S19" and v.node == 0
    assert "node 0 still leads 1000001us after it was cut off" in v.message


def test_a_leader_that_steps_down_or_is_heard_or_reconnects_in_time_passes() -> None:
    s, links = _watch()
    links.cut.add(0)
    assert s.on_step(0, True, False, False, 0, 1) is None
    assert s.on_step(0, False, False, False, 900_000, 2) is None  # stepped down
    assert s.on_step(0, True, False, True, 5_000_000, 3) is None  # elected again: a new span
    assert s.on_step(0, True, False, False, 5_000_000 + BOUND, 4) is None
    s, links = _watch()
    links.cut.add(0)
    assert s.on_step(0, True, False, False, 0, 1) is None
    assert s.on_step(0, True, True, False, 800_000, 2) is None  # a message already on the wire
    assert s.on_step(0, True, False, False, 800_000 + BOUND, 3) is None
    assert s.on_step(0, True, False, False, 800_001 + BOUND, 4) is not None
    s, links = _watch()
    links.cut.add(0)
    assert s.on_step(0, True, False, False, 0, 1) is None
    links.cut.clear()
    assert s.on_step(0, True, False, False, 900_000, 2) is None  # linked again: span over
    links.cut.add(0)
    assert s.on_step(0, True, False, False, 1_500_000, 3) is None
    assert s.on_step(0, True, False, False, 1_500_000 + BOUND, 4) is None


def test_a_pause_or_restart_starts_the_span_again() -> None:
    s, links = _watch()
    links.cut.add(0)
    assert s.on_step(0, True, False, False, 0, 1) is None
    s.restart(0, 700_000)  # it resumed from a pause: its timers fire now
    assert s.on_step(0, True, False, False, 700_000 + BOUND, 2) is None
    assert s.on_step(0, True, False, False, 700_001 + BOUND, 3) is not None


def test_a_leader_that_still_hears_or_reaches_a_peer_is_not_judged() -> None:
    s, links = _watch()
    links.mute.add(0)  # it is not heard, but it hears
    assert s.on_step(0, True, False, False, 0, 1) is None
    assert s.on_step(0, True, False, False, 10 * BOUND, 2) is None
    s, links = _watch()
    links.cut.add(1)  # a follower cut off: the leader is not
    assert s.on_step(0, True, False, False, 0, 1) is None
    assert s.on_step(0, True, False, False, 10 * BOUND, 2) is None
    assert s.on_step(1, False, False, False, 10 * BOUND, 3) is None  # not a leader


def test_the_built_in_protocols_promise_to_step_down_and_the_example_does_not() -> None:
    assert protocols.get("multipaxos").steps_down_alone
    assert protocols.get("raft").steps_down_alone
    assert not protocols.get("example").steps_down_alone


@pytest.mark.parametrize(("variant", "verdict"), [(None, "ok"), ("no-check-quorum", "violation")])
def test_no_check_quorum_is_caught_by_s19_in_the_simulator(variant: str | None,
                                                           verdict: str) -> None:
    """Seed 1 of the default faults isolates the leader for longer than the bound."""
    result = run(RunOptions(seed=1, protocol="raft", variant=variant), keep_trace=False)
    assert result.verdict == verdict, result.violation
    assert variant is None or (result.violation is not None
                               and result.violation.property == "S19")

