"""Membership in the explorer: spares started by StartReplica, kills, S12/S13 at every state,
the one-step-swap variant caught with the default bounds and replayed in the host loop."""

from __future__ import annotations

import logging

import pytest

from harness.explore import Bounds, explore, replay_schedule
from harness.explore.world import Action, World
from harness.failures.explore_replay import replay_actions


@pytest.fixture(autouse=True)
def _quiet() -> None:
    logging.getLogger("consensus").setLevel(logging.CRITICAL)


@pytest.fixture(scope="module")
def swap_schedule() -> list[Action]:
    logging.getLogger("consensus").setLevel(logging.CRITICAL)
    result = explore(Bounds(variant="one-step-swap"))
    assert result.violation is not None and result.violation.property == "S12"
    return [a for a, _ in result.schedule]


def test_membership_bounds_resolve() -> None:
    b = Bounds(variant="one-step-swap")
    assert (b.n_log_spares, b.dead_after_us, b.membership) == (1, 50_000, True)
    assert b.log_spare_ids == (3,) and b.nodes == 4
    plain = Bounds()
    assert (plain.n_log_spares, plain.dead_after_us, plain.membership) == (0, 0, False)
    both = Bounds(spares=1, log_spares=1, dead_after_us=70_000)
    assert both.spare_ids == (3,) and both.log_spare_ids == (4,) and both.dead_after_us == 70_000


def test_one_step_swap_default_bounds_found_and_replayed(swap_schedule: list[Action]) -> None:
    bounds = Bounds(variant="one-step-swap")
    _, again = replay_schedule(bounds, swap_schedule)
    assert again is not None and again.property == "S12"
    outcome = replay_actions(bounds, swap_schedule)
    assert outcome.violation is not None and outcome.violation.property == "S12"
    _, shorter = replay_schedule(bounds, swap_schedule[:-1])
    assert shorter is None


def _deliver_first(world: World, steps: int) -> tuple[World, list[Action]]:
    """Deliver the first in-flight message, ``steps`` times (or until none is left)."""
    done: list[Action] = []
    for i in range(steps):
        deliveries = [a for a in world.actions() if a[0] == "deliver"]
        if not deliveries:
            break
        nxt = world.after(deliveries[0], i)
        assert nxt is not None
        world = nxt
        done.append(deliveries[0])
    return world, done


def test_correct_protocol_heals_with_a_log_spare(swap_schedule: list[Action]) -> None:
    """The same path under the correct protocol: the leader adds the log spare (started by
    StartReplica) one voter at a time; the spare catches up; nothing is violated, in the
    explorer and in the host loop."""
    bounds = Bounds(log_spares=1, writes=1, reads=0, crashes=0, ticks=3, inflight=8)
    world, violation = replay_schedule(bounds, swap_schedule)
    assert violation is None
    assert world.replicas[3] is not None  # started by the leader's StartReplica
    leader = world.replicas[0]
    assert leader is not None and leader.membership.logs == (3,)
    assert leader.membership.storage == (0, 1, 2)  # add before remove: S12 holds
    end, delivered = _deliver_first(world, 40)
    spare, leader = end.replicas[3], end.replicas[0]
    assert spare is not None and leader is not None
    assert leader.committed_config_slot > 0 and spare.commit_index >= 1
    assert spare.role.value == "follower" and spare.applied_index == 0  # a log replica
    assert replay_actions(bounds, swap_schedule + delivered).violation is None


def test_kill_is_permanent_and_loses_messages_to_the_node() -> None:
    bounds = Bounds(log_spares=1, kills=1, writes=0, reads=0, crashes=0, ticks=1)
    init = World.initial(bounds)
    assert ("kill", 1) in init.actions() and ("kill", 3) not in init.actions()  # spare down
    w = init.after(("tick", 0))
    assert w is not None and any(k[0] == 1 for k in w.msgs)
    killed = w.after(("kill", 1))
    assert killed is not None and killed.replicas[1] is None
    assert not any(k[0] == 1 for k in killed.msgs)
    assert all(a[0] != "kill" for a in killed.actions())  # the budget is spent
    assert not any(a[1] == 1 for a in killed.actions() if a[0] in ("tick", "crash"))
    result = explore(bounds)
    assert result.violation is None and result.complete


def test_membership_small_exhaustive_passes() -> None:
    result = explore(Bounds(log_spares=1, writes=0, reads=0, crashes=0))
    assert result.violation is None and result.complete and result.states > 1000


@pytest.mark.slow
def test_membership_exhaustive_reaches_healing_and_passes() -> None:
    """Measured 137,641 states (complete): the log spare is started and joins, and the
    configuration change commits, on tens of thousands of them."""
    result = explore(Bounds(log_spares=1, writes=1, reads=0, crashes=0, inflight=4,
                            max_round=1))
    assert result.violation is None and result.complete
    assert result.states > 100_000


def test_configuration_entries_are_no_ops_in_the_ghost_state_machine() -> None:
    """The host applies configuration entries as no-ops; the ghost's model of the state
    machine must too, or a read after a membership change is judged against garbage."""
    from consensus.membership import encode_config
    from consensus.quorum import Membership
    from harness.explore.ghost import kv_apply

    state = {b"k": b"v"}
    assert kv_apply(state, encode_config(Membership((0, 1, 3), ()))) == (True, None)
    assert state == {b"k": b"v"}


def test_random_walks_through_membership_changes_read_after_them() -> None:
    bounds = Bounds(spares=1, log_spares=1, kills=1, ticks=8, max_round=4, inflight=6,
                    crashes=2)
    result = explore(bounds, strategy="random", walks=200, seed=1)
    assert result.violation is None and not result.complete
