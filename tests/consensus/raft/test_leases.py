"""Leader leases: serving strong reads only with a quorum-echoed stamp and an own-term
commit, the lease length with drift, refusals, and the checker that must catch overlap."""

from __future__ import annotations

import pytest

from consensus.effects import Reply, ServeRead
from consensus.events import ClientRead, Tick
from consensus.quorum import lease_length_us
from consensus.raft import RaftReplica, Role
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


HB = TIMING.heartbeat_interval_us


def _cut(a: int, b: int) -> object:
    return lambda m: {m.src, m.dst} != {a, b}


def _restart_inside_the_lease() -> Group:
    """0 leads; 0-2 is cut, so 2's lease runs out while 1 keeps renewing 0's; 1 restarts
    and 2 asks it for a vote at once; then both 0 and 2 try strong reads."""
    g = Group((0, 1, 2))
    g.tick(0, T0)
    g.pump(T0)
    t = T0
    while t < T0 + L + 2 * HB:
        t += HB
        g.tick(0, t)
        g.pump(t, _cut(0, 2))  # type: ignore[arg-type]
    g.crash(1)
    g.start(1, t)
    for k in range(3):
        g.outbox = []
        g.tick(2, t + k)
        g.pump(t + k, lambda m: m.src in (1, 2) and m.dst in (1, 2))
    g.step(0, read(1), t + 5)
    if g.node(2).role is Role.LEADER:
        g.tick(2, t + 10 + HB)
        g.pump(t + 10 + HB, lambda m: m.src in (1, 2) and m.dst in (1, 2))
        g.step(2, read(2), t + 20 + HB)
    return g


def test_a_restarted_node_keeps_honouring_the_lease_it_may_have_granted() -> None:
    g = _restart_inside_the_lease()
    assert g.node(2).role is not Role.LEADER
    assert [s[0] for s in g.checker.serves] == [0]


def test_without_the_restart_rule_two_leaders_serve_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    start = RaftReplica._start

    def forgetful(self: RaftReplica) -> None:
        self._recovered = False
        start(self)

    monkeypatch.setattr(RaftReplica, "_start", forgetful)
    with pytest.raises(Violation, match="lease exclusivity"):
        _restart_inside_the_lease()


def _drift_edge() -> Group:
    """0's clock runs slow, 1's and 2's fast: once 0 is cut off, 1 and 2 stop honouring it
    2*rho*L (true time) before a lease of L on 0's clock would end."""
    drift = {0: -10_000, 1: 10_000, 2: 10_000}
    g = Group((0, 1, 2), variant="no-check-quorum", drift_ppm=drift)
    g.tick(0, T0)
    g.pump(T0)
    stamp = T0 + 2 * HB  # a heartbeat is due on 0's slow clock by then
    g.tick(0, stamp)
    g.pump(stamp)
    g.outbox = []
    free = g.true_of(2, g.local(2, stamp) + L) + 1  # 1's and 2's leases for 0 ran out
    for k in range(4):
        g.outbox = []
        g.tick(2, free + k)
        g.pump(free + k, lambda m: 0 not in (m.src, m.dst))
    assert g.node(2).role is Role.LEADER
    g.tick(2, free + 10)
    g.pump(free + 10, lambda m: 0 not in (m.src, m.dst))
    g.step(2, read(1), free + 20)
    g.step(0, read(2), free + 30)
    return g


def test_the_lease_is_shrunk_for_drift() -> None:
    g = _drift_edge()
    assert [s[0] for s in g.checker.serves] == [2]  # 0 read after 2 took over: refused
    assert g.replies[-1][1].error == "no-lease"


def test_a_lease_not_shrunk_for_drift_overlaps_the_next(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("consensus.raft.leader.lease_length_us", lambda lease, ppm: lease)
    with pytest.raises(Violation, match="lease exclusivity"):
        _drift_edge()
