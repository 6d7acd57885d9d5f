"""Configuration entries: encoding, and changes committed through the log (Group tests)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consensus import Role
from consensus.effects import Apply, Persist, Reply
from consensus.events import Reconfigure
from consensus.membership import CONFIG_MAGIC, decode_config, encode_config, is_config
from consensus.quorum import Membership, is_single_change
from consensus.records import CheckpointRecord, ConfigRecord, decode_record
from tests.consensus.group import Group


@given(st.sets(st.integers(0, 2**32 - 1), min_size=2, max_size=8), st.integers(0, 3))
def test_config_command_round_trips(ids: set[int], n_logs: int) -> None:
    ordered = sorted(ids)
    n_logs = min(n_logs, len(ordered) // 2)
    m = Membership(tuple(ordered[n_logs:]), tuple(ordered[:n_logs]))
    cmd = encode_config(m)
    assert is_config(cmd) and decode_config(cmd) == m


def test_bad_config_commands_are_refused() -> None:
    with pytest.raises(ValueError, match="not a configuration"):
        decode_config(b"set k v")
    with pytest.raises(ValueError, match="wrong length"):
        decode_config(encode_config(Membership((1, 2)))[:-1])
    assert not is_config(b"") and not is_config(CONFIG_MAGIC[:-1])


def _configs(g: Group, node: int) -> list[Membership]:
    r = g.replica(node)
    return [decode_config(e.command) for _, e in sorted(r.accepted.items())
            if is_config(e.command)]


def test_adding_a_log_replica_is_committed_through_the_log_and_applied_as_noop() -> None:
    g = Group(3, log_spares=1)
    leader = g.elect()
    g.write(leader, 1, 1, b"a")
    g.run(50_000)
    g.step(leader, Reconfigure(storage=(1, 2, 3), logs=(4,)))
    g.run(300_000)
    want = Membership((1, 2, 3), (4,))
    for i in g.members:
        r = g.replica(i)
        assert r.membership == want and r.committed_membership == want, i
    slot = max(s for s, e in g.replica(leader).accepted.items() if is_config(e.command))
    # storage replicas apply the configuration entry as a no-op; the log replica applies nothing
    for i in g.storage:
        assert g.nodes[i].sm[slot] == b""
    assert g.nodes[4].sm == {} and g.replica(4).applied_index == 0
    assert g.replica(4).commit_index >= slot
    # the group still commits writes, now with quorums of 3 out of 4
    g.write(leader, 1, 2, b"b")
    g.run(50_000)
    assert any(isinstance(e, Reply) and e.request_id == 2 and e.slot
               for e in g.nodes[leader].effects)


def test_a_change_waits_for_an_entry_of_the_leaders_own_ballot() -> None:
    g = Group(3, log_spares=1)
    leader = g.elect()
    g.step(leader, Reconfigure(storage=(1, 2, 3), logs=(4,)))
    acc = g.replica(leader).accepted
    # nothing was ever proposed under this ballot: a no-op goes first, the change after it
    first = min(acc)
    assert acc[first].command == b"" and not any(is_config(e.command) for e in acc.values())
    g.run(300_000)
    slots = sorted(s for s, e in g.replica(leader).accepted.items() if is_config(e.command))
    assert slots and slots[0] > first


def test_replacing_a_storage_replica_goes_one_voter_at_a_time() -> None:
    g = Group(3, spares=1, log_spares=1)  # ids: storage 1-3, storage spare 4, log spare 5
    leader = g.elect()
    victim = max(i for i in g.storage if i != leader)
    g.crash(victim)
    keep = tuple(sorted({*g.storage, 4} - {victim}))
    g.step(leader, Reconfigure(storage=keep, logs=(5,)))
    g.run(1_000_000)
    steps = [Membership(g.storage), *_configs(g, leader)]
    assert steps[-1] == Membership(keep, (5,))
    assert all(is_single_change(a, b) for a, b in itertools.pairwise(steps))
    assert g.replica(4).applied_index == g.replica(leader).applied_index > 0
    g.step(leader, Reconfigure(storage=keep))
    g.run(300_000)
    assert g.replica(leader).committed_membership == Membership(keep)
    # the removed replica, restarted, holds no quorum and never campaigns into the group
    g.restart(victim)
    g.run(2_000_000)
    assert g.replica(leader).role is Role.LEADER


def test_membership_survives_compaction_and_restart() -> None:
    g = Group(3, log_spares=1)
    leader = g.elect()
    g.step(leader, Reconfigure(storage=(1, 2, 3), logs=(4,)))
    g.run(300_000)
    g.write(leader, 1, 1, b"a")
    g.run(50_000)
    follower = next(i for i in g.storage if i != leader)
    g.compact(follower)
    assert not any(is_config(e.command) for e in g.replica(follower).accepted.values())
    kinds = [decode_record(r) for r in g.nodes[follower].wal]
    assert any(isinstance(r, ConfigRecord) or (isinstance(r, CheckpointRecord) and r.config)
               for r in kinds)
    g.crash(follower)
    g.restart(follower)
    assert g.replica(follower).membership == Membership((1, 2, 3), (4,))


def test_client_write_with_the_reserved_prefix_is_refused() -> None:
    g = Group(3)
    leader = g.elect()
    effects = g.write(leader, 1, 1, encode_config(Membership((1,))))
    assert [e.error for e in effects if isinstance(e, Reply)] == ["reserved-command"]
    assert not any(isinstance(e, Persist | Apply) for e in effects)


def test_reconfigure_to_an_unsafe_configuration_raises() -> None:
    g = Group(3)
    leader = g.elect()
    with pytest.raises(ValueError, match="more log replicas"):
        g.step(leader, Reconfigure(storage=(leader,), logs=(8, 9)))


def test_a_change_is_not_starved_by_a_steady_stream_of_writes() -> None:
    g = Group(3, log_spares=1)
    leader = g.elect()
    g.write(leader, 1, 0, b"first")
    g.run(20_000)
    g.step(leader, Reconfigure(storage=(1, 2, 3), logs=(4,)))
    for k in range(1, 200):
        g.write(leader, 1, k, b"w%d" % k)  # faster than the group commits them
        g.advance(500)
        g.tick_due()
        for _ in range(3):  # only part of the traffic gets through before the next write
            if g.network:
                g.deliver(0)
    g.run(500_000)
    assert g.replica(leader).committed_membership == Membership((1, 2, 3), (4,))
    log = g.nodes[leader].sm
    assert list(log.values()).count(b"w199") == 1
    config_slot = next(s for s, e in g.replica(leader).accepted.items() if is_config(e.command))
    last_write = next(s for s, c in log.items() if c == b"w199")
    assert config_slot < last_write  # changed while the writes were still coming
