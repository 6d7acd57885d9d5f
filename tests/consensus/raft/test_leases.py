"""Leader leases: serving strong reads only with a quorum-echoed stamp and an own-term
commit, the lease length with drift, refusals, and the checker that must catch overlap."""

from __future__ import annotations

import pytest

from consensus.effects import Reply, ServeRead
from consensus.events import ClientRead, Tick
from consensus.quorum import lease_length_us
from consensus.raft import Role
from tests.consensus.raft.group import TIMING, Checker, Group, Violation
from tests.consensus.raft.test_elections import make
from tests.consensus.raft.test_replication import T0, elected

L = TIMING.lease_duration_us
LEASE = lease_length_us(L, TIMING.drift_bound_ppm)


def read(k: int, strong: bool = True) -> ClientRead:
    return ClientRead(client_id=3, request_id=k, key=b"k", strong=strong)


def test_leader_serves_strong_reads_until_stamp_plus_shrunk_lease() -> None:
    g = elected()
    leader = g.node(0)
    assert leader.is_serving
    assert leader.lease_until_us == g.local(0, T0) + LEASE
    assert LEASE == L * (1_000_000 - 10_000) // (1_000_000 + 10_000)
    effects = g.step(0, read(1), T0 + LEASE - 1)
    assert effects == [ServeRead(client_id=3, request_id=1, key=b"k", strong=True)]
    effects = g.step(0, read(2), T0 + LEASE)
    assert effects == [Reply(client_id=3, request_id=2, error="no-lease")]


def test_heartbeats_extend_the_lease() -> None:
    g = elected()
    t = T0 + TIMING.heartbeat_interval_us
    g.tick(0, t)
    g.pump(t)
    assert g.node(0).lease_until_us == t + LEASE


def test_lease_needs_a_quorum_of_echoes() -> None:
    g = Group((0, 1, 2))
    g.tick(0, T0)
    g.pump(T0, lambda m: not (m.src != 0 and m.dst == 0 and type(m.msg).__name__ ==
                              "AppendEntriesResponse"))
    assert g.node(0).role is Role.LEADER
    assert g.node(0).lease_until_us == 0 and not g.node(0).is_serving
    assert g.step(0, read(1), T0 + 1) == [Reply(client_id=3, request_id=1, error="no-lease")]


def test_followers_refuse_strong_reads_and_serve_eventual_ones() -> None:
    g = elected()
    assert g.step(1, read(1), T0 + 1) == [
        Reply(client_id=3, request_id=1, error="not-leader", leader_hint=0)]
    assert g.step(1, read(2, strong=False), T0 + 1) == [
        ServeRead(client_id=3, request_id=2, key=b"k", strong=False)]


def test_no_serving_before_an_entry_of_the_leaders_term_commits() -> None:
    n = make(0, members=(0,), variant="commit-old-term")  # no election no-op in this variant
    n.step(Tick(), 0)
    n.step(Tick(), TIMING.election_timeout_us)
    assert n.role is Role.LEADER and n.commit_index == 0
    assert not n.is_serving and n.lease_until_us == 0


def test_checker_catches_overlapping_leases_of_two_terms() -> None:
    c = Checker()
    c.check_serve(0, 1, 100, 1_000)
    c.check_serve(0, 1, 500, 1_500)  # same term: fine
    c.check_serve(1, 2, 1_500, 3_000)  # after every lease of term 1 ended: fine
    with pytest.raises(Violation, match="lease exclusivity"):
        c.check_serve(2, 3, 2_999, 4_000)
    with pytest.raises(Violation, match="lease exclusivity"):
        c.check_serve(0, 1, 3_100, 3_200)  # an old term serving after a newer one did


def test_leases_exclusive_across_drifting_clocks_and_failover() -> None:
    drift = {0: 10_000, 1: -10_000, 2: 0}
    g = Group((0, 1, 2), drift_ppm=drift)
    g.tick(0, T0)
    g.pump(T0)
    g.step(0, read(1), T0 + 10)
    assert g.checker.serves
    g.crash(0)
    t = T0
    while not [i for i in g.leaders() if i != 0]:
        t += 100_000
        for i in (1, 2):
            g.tick(i, t)
        g.pump(t)
    (new,) = [i for i in g.leaders() if i != 0]
    g.step(new, read(2), t)
    served = [s for s in g.checker.serves if s[0] == new]
    assert served and served[0][2] >= g.checker.serves[0][3]
