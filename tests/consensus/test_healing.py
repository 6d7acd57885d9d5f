"""Healing: the leader's plan (pure) and a group that replaces a dead storage replica."""

from __future__ import annotations

from consensus.effects import StartReplica
from consensus.healing import plan_healing
from consensus.membership import decode_config, is_config
from consensus.quorum import Membership
from tests.consensus.group import Group


def _plan(committed: Membership, heard: dict[int, int], applied: dict[int, int] | None = None,
          config_slot: int = 0) -> Membership | None:
    return plan_healing(
        committed, leader=1, now_us=10_000_000, heard_us=heard, since_us=0,
        dead_after_us=2_000_000, spares=(4,), log_spares=(5,), applied=applied or {},
        config_slot=config_slot,
    )


def test_plan_adds_a_log_replica_then_a_storage_replica_then_drops_the_log_replica() -> None:
    live = {2: 9_500_000, 3: 9_000_000}
    assert _plan(Membership((1, 2, 3)), live) is None
    dead3 = {2: 9_500_000, 3: 7_000_000}
    assert _plan(Membership((1, 2, 3)), dead3) == Membership((1, 2, 3), (5,))
    assert _plan(Membership((1, 2, 3), (5,)), dead3) == Membership((1, 2, 4), (5,))
    healed = Membership((1, 2, 4), (5,))
    heard = {2: 9_900_000, 4: 9_900_000, 5: 9_900_000}
    assert _plan(healed, heard, {2: 40, 4: 39}, config_slot=40) is None  # 4 still catching up
    assert _plan(healed, heard, {2: 40, 4: 40}, config_slot=40) == Membership((1, 2, 4))
    # never heard since election counts from the election; 0 disables healing
    assert _plan(Membership((1, 2, 3)), {2: 9_500_000}) == Membership((1, 2, 3), (5,))
    assert plan_healing(Membership((1, 2, 3)), leader=1, now_us=10**9, heard_us={}, since_us=0,
                        dead_after_us=0, spares=(4,), log_spares=(5,), applied={},
                        config_slot=0) is None


def test_no_spare_left_keeps_the_log_replica() -> None:
    dead3 = {2: 9_500_000, 3: 1}
    with_log = Membership((1, 2, 3), (5,))
    assert plan_healing(with_log, leader=1, now_us=10_000_000, heard_us=dead3, since_us=0,
                        dead_after_us=2_000_000, spares=(), log_spares=(5,), applied={},
                        config_slot=0) is None


def test_group_heals_a_permanently_dead_storage_replica() -> None:
    g = Group(3, spares=1, log_spares=1, replica_dead_after_us=500_000)
    leader = g.elect()
    for k in range(1, 21):
        g.write(leader, 1, k, b"w%d" % k)
    g.run(100_000)
    victim = max(i for i in g.storage if i != leader)
    g.crash(victim)  # never comes back
    g.run(3_000_000)
    assert g.leader() == leader
    r = g.replica(leader)
    steps = [decode_config(e.command) for _, e in sorted(r.accepted.items())
             if is_config(e.command)]
    keep = tuple(sorted({*g.storage, 4} - {victim}))
    assert steps[0] == Membership(g.storage, (5,))  # the log replica comes first
    assert r.committed_membership == Membership(keep)
    started = [e for e in g.nodes[leader].effects if isinstance(e, StartReplica)]
    assert started == [StartReplica(node_id=5, log_replica=True),
                       StartReplica(node_id=4, log_replica=False)]
    assert g.nodes[4].sm == g.nodes[leader].sm and len(g.nodes[4].sm) >= 20
    g.write(leader, 2, 1, b"after")
    g.run(100_000)
    assert g.nodes[4].sm == g.nodes[leader].sm


def test_one_step_plan_swaps_the_dead_replica_for_the_log_replica() -> None:
    dead3 = {2: 9_500_000, 3: 1}
    got = plan_healing(Membership((1, 2, 3)), leader=1, now_us=10_000_000, heard_us=dead3,
                       since_us=0, dead_after_us=2_000_000, spares=(4,), log_spares=(5,),
                       applied={}, config_slot=0, one_step=True)
    assert got == Membership((1, 2), (5,))


def test_new_leader_finishes_a_replacement_its_predecessor_began() -> None:
    # the old leader added spare 4 for dead 3 and lost leadership before removing 3
    midway = Membership((1, 2, 3, 4), (5,))
    dead3 = {2: 9_500_000, 3: 1, 4: 9_500_000, 5: 9_500_000}

    def plan(storage_size: int) -> Membership | None:
        return plan_healing(
            midway, leader=1, now_us=10_000_000, heard_us=dead3, since_us=0,
            dead_after_us=2_000_000, spares=(4,), log_spares=(5,), applied={},
            config_slot=0, storage_size=storage_size,
        )

    assert plan(3) == Membership((1, 2, 4), (5,))
    assert plan(0) is None  # no size given: never shrink without a free spare
    # a second failure after a finished replacement must not shrink the group below its size
    after = Membership((1, 2, 4), (5,))
    dead2 = {2: 1, 4: 9_500_000, 5: 9_500_000}
    assert plan_healing(
        after, leader=1, now_us=10_000_000, heard_us=dead2, since_us=0,
        dead_after_us=2_000_000, spares=(4,), log_spares=(5,), applied={}, config_slot=0,
        storage_size=3,
    ) is None
