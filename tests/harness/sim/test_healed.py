"""What the liveness phase asks of a group with spares (`harness.sim.simulation._healed`): healed
as far as its spares allow; and the run that showed the old rule asked too much."""

from __future__ import annotations

from consensus.quorum import Membership
from harness.runtime.host import GroupSpec
from harness.sim import run
from harness.sim.runspec import RunOptions
from harness.sim.simulation import _healed

GROUP = GroupSpec.for_run(5, True, 1_000_000)  # storage 0..4, log spare 5, storage spare 6


def _status(dead: tuple[int, ...] = (), down: tuple[int, ...] = ()) -> dict[int, str]:
    return {n: "dead" if n in dead else "crashed" if n in down else "up" for n in range(7)}


def test_a_dead_voter_with_a_spare_free_to_replace_it_is_not_healed() -> None:
    assert GROUP.log_spares == (5,) and GROUP.spares == (6,)
    initial = Membership((0, 1, 2, 3, 4), ())
    assert not _healed(initial, GROUP, _status(dead=(2,)))  # not even the log replica added
    with_log = Membership((0, 1, 2, 3, 4), (5,))
    assert not _healed(with_log, GROUP, _status(dead=(2,)))  # the storage spare is free


def test_a_log_spare_left_once_every_storage_voter_is_up_is_not_healed() -> None:
    replaced = Membership((0, 1, 3, 4, 6), (5,))
    assert not _healed(replaced, GROUP, _status(dead=(2,)))
    assert _healed(Membership((0, 1, 3, 4, 6), ()), GROUP, _status(dead=(2,)))
    assert _healed(replaced, GROUP, _status(dead=(2,), down=(3,)))  # 3 may be rebuilding


def test_a_dead_voter_with_the_spares_spent_elsewhere_is_as_healed_as_it_can_be() -> None:
    # The storage spare replaced 0, which only seemed dead; then 2 failed for good.
    spent = Membership((1, 2, 3, 4, 6), (5,))
    assert _healed(spent, GROUP, _status(dead=(2,)))
    assert not _healed(Membership((1, 2, 3, 4, 6), ()), GROUP, _status(dead=(2,)))  # 5 free


def test_five_replicas_whose_storage_spare_went_to_a_false_suspicion_pass() -> None:
    """Seed 19: the leader replaces node 0 (down past the failure detector) by the storage
    spare while node 2 fails for good; the group ends with 2 and the log replica."""
    faults = ("partition", "crash", "pause", "clock", "disk", "loss", "permanent")
    result = run(RunOptions(seed=19, replicas=5, faults=faults), keep_trace=False)
    assert result.verdict == "ok", result.violation
