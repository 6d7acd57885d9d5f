"""The replica in a tiny in-memory group: election, replication, failover, leases, clients."""

from __future__ import annotations

import pytest

from consensus import Ballot, Replica, ReplicaConfig, Role
from consensus.effects import Apply, Persist, Reply, Send, ServeRead, SetTimer
from consensus.events import ClientWrite, Receive, StepDown, Tick
from consensus.messages import Accept, Accepted, Nack, Prepare, ProbeReply, Promise, Release
from consensus.quorum import lease_length_us, lease_wait_us
from tests.consensus.group import FAST, Group


def committed_writes(g: Group, leader: int, n: int, *, start: int = 0) -> None:
    for k in range(start, start + n):
        g.write(leader, 1, k, b"w%d" % k)
    g.run(50_000)


def test_single_node_group_elects_itself_and_serves() -> None:
    g = Group(1)
    assert g.elect() == 1
    effects = g.write(1, 7, 1, b"x")
    kinds = [type(e) for e in effects]
    assert kinds.index(Persist) < kinds.index(Apply) < kinds.index(Reply)
    assert g.nodes[1].replies[-1].slot == 1


def test_election_then_replication_applies_in_order_everywhere() -> None:
    g = Group(3)
    leader = g.elect()
    assert sum(n.replica.role is Role.LEADER for n in g.nodes.values()) == 1
    committed_writes(g, leader, 10)
    for n in g.nodes.values():
        assert n.sm == {k + 1: b"w%d" % k for k in range(10)}
        assert n.replica.commit_index == n.replica.applied_index == 10
    replies = g.nodes[leader].replies
    assert [(r.request_id, r.slot) for r in replies] == [(k, k + 1) for k in range(10)]


def test_accepted_reply_comes_after_its_persist() -> None:
    g = Group(3)
    leader = g.elect()
    follower = next(i for i in g.members if i != leader)
    g.write(leader, 1, 1, b"a")
    src, dst, msg = next(m for m in g.network if m[1] == follower)
    effects = g.step(dst, Receive(src=src, msg=msg))
    kinds = [type(e) for e in effects]
    assert kinds[0] is Persist and Send in kinds
    sent = effects[kinds.index(Send)]
    assert isinstance(sent, Send) and isinstance(sent.msg, Accepted)


def test_non_leader_redirects_writes_and_strong_reads() -> None:
    g = Group(3)
    leader = g.elect()
    follower = next(i for i in g.members if i != leader)
    [reply] = [e for e in g.write(follower, 1, 1, b"x") if isinstance(e, Reply)]
    assert (reply.error, reply.leader_hint, reply.indeterminate) == ("not-leader", leader, False)
    [reply] = [e for e in g.read(follower, 1, 2, strong=True) if isinstance(e, Reply)]
    assert reply.error == "not-leader"
    [served] = [e for e in g.read(follower, 1, 3, strong=False) if isinstance(e, ServeRead)]
    assert not served.strong


def test_strong_read_is_queued_until_the_leader_serves() -> None:
    g = Group(3)
    g.run(FAST.election_timeout_us)  # nobody leads yet; make node 1 campaign by hand
    r = g.replica(1)
    r._fstate.deadline_us = 0  # type: ignore[union-attr]
    g.step(1, Tick())
    g.deliver_all(drop=lambda s, d, m: isinstance(m, Accepted))  # elected, no lease yet
    assert r.role is Role.LEADER and not r.is_serving(g.nodes[1].clock_us)
    effects = g.read(1, 1, 2)
    assert not any(isinstance(e, ServeRead) for e in effects)
    g.run(20_000)
    reads = g.nodes[1].reads
    assert [x.request_id for x in reads] == [2] and reads[0].strong


def test_failover_keeps_committed_entries_and_fills_gaps_with_noops() -> None:
    g = Group(3)
    old = g.elect()
    committed_writes(g, old, 3)
    a, b = (i for i in g.members if i != old)
    # slot 4 reaches only follower a, slot 5 no follower, slot 6 only follower a
    reaches: list[tuple[int, set[int]]] = [(3, {a}), (4, set()), (5, {a})]
    for k, reach in reaches:
        g.write(old, 1, k, b"w%d" % k)
        g.deliver_all(drop=lambda s, d, m, r=reach: d not in r or s != old)  # type: ignore[misc]
    g.crash(old)
    new = g.elect()
    assert new in (a, b)
    g.run(100_000)
    sm = g.nodes[new].sm
    assert [sm[s] for s in (1, 2, 3)] == [b"w0", b"w1", b"w2"]
    assert sm[4] == b"w3" and sm[5] == b"" and sm[6] == b"w5"  # gap at 5 became a no-op
    assert g.nodes[a].sm == g.nodes[b].sm == sm


def test_new_leader_serves_nothing_before_recovered_suffix_commits() -> None:
    g = Group(3)
    old = g.elect()
    committed_writes(g, old, 2)
    a = next(i for i in g.members if i != old)
    g.write(old, 1, 9, b"late")
    g.deliver_all(drop=lambda s, d, m: d != a)
    g.crash(old)
    # elect a new leader, but drop every acknowledgement of slots (heartbeat acks pass)
    dropped_b = {"on": True}
    g.run(2_000_000, drop=lambda s, d, m: dropped_b["on"] and isinstance(m, Accepted)
          and len(m.slots) > 0)
    leader = g.leader()
    assert leader is not None
    r = g.replica(leader)
    assert r.recovery_slot == 3 and r.commit_index < 3
    assert not r.is_serving(g.nodes[leader].clock_us)
    g.write(leader, 2, 1, b"new")
    assert not g.nodes[leader].replies
    dropped_b["on"] = False
    g.run(100_000)
    assert r.commit_index >= 4 and r.is_serving(g.nodes[leader].clock_us)
    assert [x.slot for x in g.nodes[leader].replies] == [4]


def test_new_leader_waits_out_the_reported_lease() -> None:
    g = Group(3)
    old = g.elect()
    committed_writes(g, old, 1)
    g.crash(old)
    t0 = {i: n.clock_us for i, n in g.nodes.items()}
    new = g.elect()
    r = g.replica(new)
    ls = r._lstate
    assert ls is not None
    # the promisers granted a lease to the old leader less than one heartbeat before it died
    assert ls.lease_wait_until_us > ls.elected_us
    assert ls.lease_wait_until_us - t0[new] >= 0
    assert not r.is_serving(ls.lease_wait_until_us - 1)
    assert r.is_serving(g.nodes[new].clock_us)


def test_restarted_acceptor_reports_a_full_lease() -> None:
    g = Group(3)
    g.elect()
    follower = next(i for i in g.members if i != g.leader())
    g.crash(follower)
    g.restart(follower)
    now = g.nodes[follower].clock_us
    effects = g.step(follower, Receive(src=g.leader() or 0,
                                       msg=_prepare(Ballot(99, g.leader() or 0))))
    [promise] = [e.msg for e in effects if isinstance(e, Send)]
    assert isinstance(promise, Promise)
    assert promise.lease_remaining_us == FAST.lease_duration_us
    assert g.nodes[follower].clock_us == now


def _prepare(ballot: Ballot) -> Prepare:
    return Prepare(ballot=ballot, from_slot=1)


def test_leader_steps_down_on_purpose_and_releases_its_lease() -> None:
    g = Group(3)
    leader = g.elect()
    g.write(leader, 1, 1, b"held")  # proposed, not yet committed
    effects = g.step(leader, StepDown())
    assert g.replica(leader).role is Role.FOLLOWER
    assert not g.replica(leader).is_serving(g.nodes[leader].clock_us)
    [reply] = [e for e in effects if isinstance(e, Reply)]
    assert reply.error == "not-leader" and reply.indeterminate
    releases = [e for e in effects if isinstance(e, Send) and isinstance(e.msg, Release)]
    assert len(releases) == 2
    g.deliver_all()
    follower = next(i for i in g.members if i != leader)
    assert g.replica(follower)._grant_remaining_us(Ballot(99, 9)) == 0
    new = g.elect()
    ls = g.replica(new)._lstate
    assert ls is not None and ls.lease_wait_until_us == ls.elected_us  # nothing to wait out


def test_leader_without_quorum_steps_down() -> None:
    g = Group(3)
    leader = g.elect()
    for i in g.members:
        if i != leader:
            g.crash(i)
    g.run(FAST.election_timeout_us + 2 * FAST.heartbeat_interval_us)
    assert g.replica(leader).role is not Role.LEADER


def test_gray_failure_check_blocks_election_while_a_peer_hears_the_leader() -> None:
    g = Group(3)
    leader = g.elect()
    a = next(i for i in g.members if i != leader)
    # one-way failure: leader -> a lost; b still hears the leader and says so
    g.run(3_000_000, drop=lambda s, d, m: s == leader and d == a)
    assert g.replica(leader).role is Role.LEADER
    assert g.replica(a).role is Role.FOLLOWER and g.replica(a).promised.node == leader
    assert any(isinstance(e, Send) and type(e.msg).__name__ == "Probe"
               for e in g.nodes[a].effects)


def test_early_tick_is_a_no_op_and_timer_is_set_once_per_change() -> None:
    cfg = ReplicaConfig(node_id=1, members=(1, 2, 3), timing=FAST)
    r = Replica(cfg, lambda label, n: 0)
    effects = r.step(Tick(), 0)
    assert effects == [SetTimer(at_us=FAST.election_timeout_us)]
    assert r.step(Tick(), 10) == []


def test_step_rejects_unknown_events_and_drops_bad_messages() -> None:
    cfg = ReplicaConfig(node_id=1, members=(1, 2, 3), timing=FAST)
    r = Replica(cfg, lambda label, n: 0)
    r.step(Tick(), 0)
    with pytest.raises(TypeError, match="event"):
        r.step("tick", 1)  # type: ignore[arg-type]
    assert r.step(Receive(src=9, msg=Accept(ballot=Ballot(1, 9), first_slot=1, commands=(),
                                            commit_index=0, stamp_us=0)), 1) == []
    assert r.step(Receive(src=2, msg="junk"), 1) == []
    assert r.step(ClientWrite(client_id=1, request_id=1, command=b"x"), 2)[0] == Reply(
        client_id=1, request_id=1, error="not-leader")


def test_release_forgets_only_the_released_grant() -> None:
    cfg = ReplicaConfig(node_id=1, members=(1, 2, 3), timing=FAST)
    r = Replica(cfg, lambda label, n: 0)
    r.step(Tick(), 0)
    b1, b2, b3 = Ballot(1, 2), Ballot(2, 3), Ballot(3, 2)
    hb1 = Accept(ballot=b1, first_slot=1, commands=(), commit_index=0, stamp_us=0)
    hb2 = Accept(ballot=b2, first_slot=1, commands=(), commit_index=0, stamp_us=0)
    r.step(Receive(src=2, msg=hb1), 0)  # grants b1 until L
    r.step(Receive(src=3, msg=hb2), 10)  # grants b2 until 10 + L
    r.step(Receive(src=3, msg=Release(ballot=b2)), 20)
    effects = r.step(Receive(src=2, msg=_prepare(b3)), 30)
    [promise] = [e.msg for e in effects if isinstance(e, Send)]
    assert isinstance(promise, Promise)
    assert promise.lease_remaining_us == FAST.lease_duration_us - 30  # b1's grant still runs


def _candidate(now: int = 1_000_000) -> Replica:
    """Node 1 of (1, 2, 3), made candidate at local time ``now`` (peer 2 hears no leader)."""
    cfg = ReplicaConfig(node_id=1, members=(1, 2, 3), timing=FAST)
    r = Replica(cfg, lambda label, n: 0)
    r.step(Tick(), 0)
    r.step(Tick(), now)
    r.step(Receive(src=2, msg=ProbeReply(ballot=Ballot.ZERO, probe_id=1, hears=False)), now)
    assert r.role is Role.CANDIDATE
    return r


def test_lease_wait_is_the_largest_reported_remaining_scaled_by_drift() -> None:
    now = 1_000_000
    r = _candidate(now)
    b = r.promised
    r.step(Receive(src=2, msg=Promise(ballot=b, from_slot=1, entries=(), commit_index=0,
                                      lease_remaining_us=100_000)), now + 5)
    assert r.role is Role.LEADER
    wait = lease_wait_us(100_000, FAST.drift_bound_ppm)
    assert wait == 102_021  # 100_000 * 1.01 / 0.99, rounded up
    ls = r._lstate
    assert ls is not None and ls.lease_wait_until_us == now + 5 + wait
    r.step(Receive(src=2, msg=Accepted(ballot=b, first_slot=1, last_slot=0, stamp_us=now + 5)),
           now + 10)
    assert r.lease_until_us == now + 5 + lease_length_us(FAST.lease_duration_us,
                                                         FAST.drift_bound_ppm)
    assert not r.is_serving(now + 5 + wait - 1)
    assert r.is_serving(now + 5 + wait)


def test_candidate_retries_with_a_higher_round_after_its_timeout() -> None:
    r = _candidate()
    first = r.promised
    effects = r.step(Tick(), 10_000_000)
    assert r.role is Role.CANDIDATE and r.promised.round == first.round + 1
    prepares = [e for e in effects if isinstance(e, Send) and isinstance(e.msg, Prepare)]
    assert [e.dst for e in prepares] == [2, 3]
    assert isinstance(effects[0], Persist)  # the new self-promise is durable first


def test_higher_ballot_nack_makes_a_candidate_a_follower() -> None:
    r = _candidate()
    r.step(Receive(src=3, msg=Nack(ballot=Ballot(9, 3), rejected=r.promised)), 1_000_001)
    assert r.role is Role.FOLLOWER
    assert Ballot(r._max_round + 1, 1) > Ballot(9, 3)  # the next campaign goes above it


def test_window_queues_writes_and_proposes_them_as_one_batch() -> None:
    g = Group(3, window=4)
    leader = g.elect()
    for k in range(10):
        g.write(leader, 1, k, b"w%d" % k)
    ls = g.replica(leader)._lstate
    assert ls is not None and ls.next_slot == 5 and len(ls.queue) == 6  # 4 in flight
    g.network.clear()  # the first Accepts are lost
    g.run(50_000)  # a heartbeat resends all 4 in one Accept; their acks free the window
    assert g.replica(leader).commit_index == 10
    batches = [
        len(e.msg.commands) for e in g.nodes[leader].effects
        if isinstance(e, Send) and isinstance(e.msg, Accept)
    ]
    assert max(batches) == 4  # never more than the window in one message
    assert [r.slot for r in g.nodes[leader].replies] == list(range(1, 11))
