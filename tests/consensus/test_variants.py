"""Each deliberately broken variant changes exactly the behaviour it names.

Five probes, one per behaviour; each returns True when the replica behaved as the correct
protocol does. Under a variant, exactly its own probe must flip.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from consensus import VARIANTS, Ballot, Replica, ReplicaConfig
from consensus.effects import Apply, Persist, Reply, Send, ServeRead
from consensus.events import Receive, Reconfigure, Tick
from consensus.membership import decode_config, is_config
from consensus.messages import Prepare
from consensus.quorum import Membership, is_single_change
from tests.consensus.group import FAST, Group


def waits_out_old_lease(variant: str | None) -> bool:
    g = Group(3, variant=variant)
    old = g.elect()
    g.write(old, 1, 1, b"a")
    g.run(20_000)
    g.crash(old)
    new = g.elect()
    ls = g.replica(new)._lstate
    assert ls is not None
    return ls.lease_wait_until_us > ls.elected_us


def commits_only_with_majority(variant: str | None) -> bool:
    g = Group(3, variant=variant)
    leader = g.elect()
    effects = g.write(leader, 1, 1, b"a")
    return not any(isinstance(e, Apply | Reply) for e in effects)


def persists_promise_before_sending(variant: str | None) -> bool:
    cfg = ReplicaConfig(node_id=1, members=(1, 2, 3), timing=FAST, variant=variant)
    r = Replica(cfg, lambda label, n: 0)
    r.step(Tick(), 0)
    effects = r.step(Receive(src=2, msg=Prepare(ballot=Ballot(3, 2), from_slot=1)), 5)
    assert any(isinstance(e, Send) for e in effects)
    records = [rec for e in effects if isinstance(e, Persist) for rec in e.records]
    restarted = Replica(cfg, lambda label, n: 0, records=records)
    return isinstance(effects[0], Persist) and restarted.promised == Ballot(3, 2)


def strong_reads_need_leader(variant: str | None) -> bool:
    g = Group(3, variant=variant)
    leader = g.elect()
    follower = next(i for i in g.members if i != leader)
    effects = g.read(follower, 1, 1, strong=True)
    return not any(isinstance(e, ServeRead) for e in effects)


def changes_one_voter_at_a_time(variant: str | None) -> bool:
    g = Group(3, log_spares=1, variant=variant)
    leader = g.elect()
    dead = max(i for i in g.storage if i != leader)
    keep = tuple(i for i in g.storage if i != dead)
    g.step(leader, Reconfigure(storage=keep, logs=(4,)))
    g.run(300_000)
    configs = [decode_config(e.command) for _, e in sorted(g.replica(leader).accepted.items())
               if is_config(e.command)]
    assert configs[-1] == Membership(keep, (4,))
    steps = [Membership(g.storage), *configs]
    return all(is_single_change(a, b) for a, b in itertools.pairwise(steps))


PROBES: dict[str, Callable[[str | None], bool]] = {
    "no-lease-wait": waits_out_old_lease,
    "quorum-one": commits_only_with_majority,
    "no-persist-promise": persists_promise_before_sending,
    "stale-read": strong_reads_need_leader,
    "one-step-swap": changes_one_voter_at_a_time,
}


def test_probes_cover_every_variant() -> None:
    assert sorted(PROBES) == sorted(VARIANTS)


def test_correct_protocol_passes_every_probe() -> None:
    assert {name: probe(None) for name, probe in PROBES.items()} == dict.fromkeys(PROBES, True)


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_flips_exactly_its_own_probe(variant: str) -> None:
    got = {name: probe(variant) for name, probe in PROBES.items()}
    assert got == {name: name != variant for name in PROBES}


def _overlap_after_pausing_the_leader(variant: str | None) -> bool:
    """Pause the leader right after a lease round; does anyone else serve while it could?"""
    g = Group(3, variant=variant)
    old = g.elect()
    g.write(old, 1, 1, b"a")
    g.run(1_000)
    g.paused = {old}
    overlap = False
    for _ in range(200):
        g.run(2_000)
        serving = [i for i, n in g.nodes.items() if n.replica.is_serving(n.clock_us)]
        overlap |= len(serving) > 1
    g.paused = set()
    assert any(g.replica(i).role.value == "leader" for i in g.members if i != old)
    return overlap


def test_lease_wait_keeps_a_paused_leader_and_its_successor_apart() -> None:
    """S6 under a pause: the correct protocol never has two serving; no-lease-wait does."""
    assert not _overlap_after_pausing_the_leader(None)
    assert _overlap_after_pausing_the_leader("no-lease-wait")
