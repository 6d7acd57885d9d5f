"""Log replicas: vote in both phases, never lead, never serve reads, apply nothing, and drop
only what every storage replica has applied (S13)."""

from __future__ import annotations

from consensus import Ballot, Replica, ReplicaConfig, Role
from consensus.effects import Apply, InstallSnapshot, Persist, Reply, Send, ServeRead
from consensus.events import ClientRead, Receive, Reconfigure, Tick
from consensus.messages import (
    Accept,
    Accepted,
    CatchUpReply,
    CatchUpRequest,
    Prepare,
    ProbeReply,
    Promise,
)
from tests.consensus.group import FAST, Group


def _log_replica() -> Replica:
    cfg = ReplicaConfig(node_id=3, members=(1, 2), log_members=(3,), timing=FAST)
    r = Replica(cfg, lambda label, n: 0)
    r.step(Tick(), 0)
    return r


def test_log_replica_votes_in_both_phases_and_returns_its_suffix() -> None:
    r = _log_replica()
    accept = Accept(ballot=Ballot(1, 1), first_slot=1, commands=(b"a", b"b"), commit_index=0,
                    stamp_us=0)
    effects = r.step(Receive(src=1, msg=accept), 10)
    assert isinstance(effects[0], Persist)
    assert [e.msg for e in effects if isinstance(e, Send)] == [
        Accepted(ballot=Ballot(1, 1), first_slot=1, last_slot=2, stamp_us=0)]
    effects = r.step(Receive(src=2, msg=Prepare(ballot=Ballot(2, 2), from_slot=1)), 20)
    promise = next(e.msg for e in effects if isinstance(e, Send))
    assert isinstance(promise, Promise) and promise.ballot == Ballot(2, 2)
    assert [(e.slot, e.command) for e in promise.entries] == [(1, b"a"), (2, b"b")]


def test_log_replica_never_campaigns_and_refuses_every_read() -> None:
    r = _log_replica()
    for t in range(0, 20_000_000, 50_000):
        effects = r.step(Tick(), t)
        assert not any(isinstance(e, Send) and isinstance(e.msg, Prepare) for e in effects)
        assert r.role is Role.FOLLOWER
    for strong in (True, False):
        effects = r.step(ClientRead(client_id=1, request_id=1, key=b"k", strong=strong), 1)
        assert not any(isinstance(e, ServeRead) for e in effects)
        assert [e.error for e in effects if isinstance(e, Reply)] == ["log-replica"]


def test_group_with_a_log_replica_fails_over_to_a_storage_replica() -> None:
    g = Group(2, logs=1)  # storage 1, 2; log replica 3
    leader = g.elect()
    g.write(leader, 1, 1, b"a")
    g.run(50_000)
    g.crash(leader)
    new = g.elect()
    assert new != 3 and new != leader
    g.write(new, 1, 2, b"b")
    g.run(100_000)
    assert list(g.nodes[new].sm.values())[-1] == b"b"  # chosen with the log replica's vote
    assert not any(isinstance(e, Apply | InstallSnapshot | ServeRead)
                   for e in g.nodes[3].effects)
    assert g.replica(3).applied_index == 0 and g.replica(3).role is Role.FOLLOWER


def test_log_replica_truncates_only_what_every_storage_replica_applied() -> None:
    g = Group(2, logs=1)
    leader = g.elect()
    other = 3 - leader
    for k in range(1, 11):
        g.write(leader, 1, k, b"w%d" % k)
    g.run(100_000)
    log = g.replica(3)
    applied = min(g.replica(i).applied_index for i in (1, 2))
    assert log.snapshot_slot == applied >= 10
    assert min(log.accepted, default=applied + 1) > applied
    # a lagging storage replica holds truncation back
    g.crash(other)
    for k in range(11, 16):
        g.write(leader, 1, k, b"w%d" % k)
    g.run(50_000)
    assert g.replica(3).snapshot_slot == applied
    assert all(s in g.replica(3).accepted for s in range(applied + 1, applied + 6))


def test_new_log_replica_copies_only_the_wal_suffix() -> None:
    g = Group(3, log_spares=1)
    leader = g.elect()
    for k in range(1, 6):
        g.write(leader, 1, k, b"x" * 100)
    g.run(100_000)
    for i in g.storage:
        g.compact(i)
    g.step(leader, Reconfigure(storage=(1, 2, 3), logs=(4,)))
    g.run(300_000)
    replies = [e.msg for i in g.storage for e in g.nodes[i].effects
               if isinstance(e, Send) and e.dst == 4 and isinstance(e.msg, CatchUpReply)]
    assert replies and all(m.snapshot == b"" for m in replies)
    assert any(m.snapshot_slot >= 5 for m in replies)
    assert g.replica(4).commit_index == g.replica(leader).commit_index


def test_candidate_behind_a_log_replicas_truncation_catches_up_instead_of_leading() -> None:
    cfg = ReplicaConfig(node_id=1, members=(1, 2), log_members=(3,), timing=FAST)
    r = Replica(cfg, lambda label, n: 0)
    r.step(Tick(), 0)
    effects = r.step(Tick(), 10_000_000)  # election timeout: the gray-failure probe goes out
    probe = next(e.msg for e in effects if isinstance(e, Send) and e.dst == 2)
    effects = r.step(Receive(src=2, msg=ProbeReply(ballot=Ballot.ZERO, probe_id=probe.probe_id,
                                                   hears=False)), 10_000_001)
    assert r.role is Role.CANDIDATE
    ballot = r.promised
    # the log replica promises, having dropped slots 1..10 that every storage replica applied
    promise = Promise(ballot=ballot, from_slot=1, entries=(), commit_index=10,
                      lease_remaining_us=0, snapshot_slot=10, snapshot=b"")
    effects = r.step(Receive(src=3, msg=promise), 10_000_002)
    assert r.role.value == "follower" and r.commit_index == 0
    asks = [e for e in effects if isinstance(e, Send) and isinstance(e.msg, CatchUpRequest)]
    assert [(e.dst, e.msg.from_slot) for e in asks] == [(2, 1)]
