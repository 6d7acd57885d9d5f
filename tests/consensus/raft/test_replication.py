"""Log replication: log matching, conflict truncation (persisted), commit and apply in
order, replies after apply, indeterminate replies on leader change, refusals."""

from __future__ import annotations

from consensus.effects import Apply, Persist, Reply, Send
from consensus.events import ClientWrite, Receive, StepDown, Tick
from consensus.raft import Role
from consensus.raft.messages import AppendEntries, AppendEntriesResponse
from consensus.raft.records import replay
from tests.consensus.raft.group import TIMING, Group
from tests.consensus.raft.test_elections import make, sends

T0 = 2 * TIMING.election_timeout_us + TIMING.election_jitter_us


def elected(members: tuple[int, ...] = (0, 1, 2), **kw: object) -> Group:
    g = Group(members, **kw)  # type: ignore[arg-type]
    g.tick(0, T0)
    g.pump(T0)
    assert g.leaders() == [0]
    return g


def ae(term: int, prev: int, prev_term: int, entries: tuple[tuple[int, bytes], ...],
       commit: int = 0) -> Receive:
    return Receive(src=0, msg=AppendEntries(term=term, prev_index=prev, prev_term=prev_term,
                                            entries=entries, commit=commit, stamp_us=0))


def test_append_is_refused_when_the_previous_entry_does_not_match() -> None:
    n = make(1)
    n.step(Tick(), 0)
    effects = n.step(ae(1, 3, 1, ((1, b"x"),)), 10)
    msg = sends(effects)[0].msg
    assert msg == AppendEntriesResponse(term=1, success=False, match_index=0, stamp_us=0)
    assert list(n.log_entries()) == []


def test_conflicting_suffix_is_truncated_durably() -> None:
    n = make(1)
    n.step(Tick(), 0)
    wal: list[bytes] = []
    for effects in (n.step(ae(1, 0, 0, ((1, b"a"), (1, b"b"), (1, b"c"))), 10),
                    n.step(ae(2, 1, 1, ((2, b"B"),), commit=1), 20)):
        wal += [r for e in effects if isinstance(e, Persist) for r in e.records]
        persist = next(k for k, e in enumerate(effects) if isinstance(e, Persist))
        assert persist < next(k for k, e in enumerate(effects) if isinstance(e, Send))
    assert list(n.log_entries()) == [(1, 1, b"a"), (2, 2, b"B")]
    assert [(i, t, c) for i, t, c in replay(wal).log.items()] == [(1, 1, b"a"), (2, 2, b"B")]
    assert n.commit_index == 1


def test_a_duplicate_append_does_not_truncate_newer_entries() -> None:
    n = make(1)
    n.step(Tick(), 0)
    n.step(ae(1, 0, 0, ((1, b"a"), (1, b"b"))), 10)
    effects = n.step(ae(1, 0, 0, ((1, b"a"),)), 20)
    assert list(n.log_entries()) == [(1, 1, b"a"), (2, 1, b"b")]
    assert not any(isinstance(e, Persist) for e in effects)


def test_follower_commit_is_bounded_by_what_the_message_verified() -> None:
    n = make(1)
    n.step(Tick(), 0)
    n.step(ae(1, 0, 0, ((1, b"a"), (1, b"b"))), 10)
    n.step(ae(2, 0, 0, ((1, b"a"),), commit=5), 20)
    assert n.commit_index == 1 and n.applied_index == 1


def test_writes_commit_apply_in_order_and_reply_after_apply() -> None:
    g = elected()
    for k in range(3):
        effects = g.step(0, ClientWrite(client_id=7, request_id=k, command=b"c%d" % k), T0 + 1)
        assert not any(isinstance(e, Reply) for e in effects)
    g.pump(T0 + 2)
    replies = [r for i, r in g.replies if i == 0]
    assert [(r.request_id, r.slot) for r in replies] == [(0, 2), (1, 3), (2, 4)]
    assert g.sm[0] == [b"", b"c0", b"c1", b"c2"]
    g.tick(0, T0 + TIMING.heartbeat_interval_us)
    g.pump(T0 + TIMING.heartbeat_interval_us)
    assert g.sm[1] == g.sm[2] == g.sm[0]


def test_reply_follows_apply_in_the_effect_list() -> None:
    g = elected(members=(0,))
    effects = g.step(0, ClientWrite(client_id=1, request_id=1, command=b"x"), T0 + 5)
    kinds = [type(e).__name__ for e in effects]
    assert kinds.index("Persist") < kinds.index("Apply") < kinds.index("Reply")
    assert Apply(slot=2, command=b"x") in effects


def test_writes_pending_at_a_leader_change_are_indeterminate() -> None:
    g = elected()
    g.step(0, ClientWrite(client_id=1, request_id=9, command=b"x"), T0 + 1)
    g.outbox = []  # never replicated
    effects = g.step(0, StepDown(), T0 + 2)
    assert g.node(0).role is Role.FOLLOWER
    assert Reply(client_id=1, request_id=9, error="not-leader", indeterminate=True) in effects


def test_a_higher_term_also_fails_pending_writes() -> None:
    g = elected()
    g.step(0, ClientWrite(client_id=1, request_id=9, command=b"x"), T0 + 1)
    g.outbox = []
    msg = AppendEntriesResponse(term=5, success=False, match_index=0, stamp_us=0)
    effects = g.step(0, Receive(src=1, msg=msg), T0 + 2)
    assert g.node(0).term == 5 and g.node(0).role is Role.FOLLOWER
    assert [e for e in effects if isinstance(e, Reply)] == [
        Reply(client_id=1, request_id=9, error="not-leader", indeterminate=True)]


def test_followers_refuse_writes_naming_the_leader() -> None:
    g = elected()
    effects = g.step(1, ClientWrite(client_id=1, request_id=1, command=b"x"), T0 + 1)
    assert effects == [Reply(client_id=1, request_id=1, error="not-leader", leader_hint=0)]


def test_a_stale_leader_is_told_the_newer_term() -> None:
    n = make(1)
    n.step(Tick(), 0)
    n.step(ae(3, 0, 0, ()), 10)
    effects = n.step(ae(2, 0, 0, ((2, b"old"),)), 20)
    assert sends(effects)[0].msg == AppendEntriesResponse(term=3, success=False,
                                                          match_index=0, stamp_us=0)
    assert list(n.log_entries()) == []


def test_a_lagging_follower_is_repaired_by_backing_off() -> None:
    g = elected(members=(0, 1, 2))
    for k in range(5):
        g.step(0, ClientWrite(client_id=1, request_id=k, command=b"w%d" % k), T0 + 1)
    g.pump(T0 + 1, lambda m: 2 not in (m.src, m.dst))
    t = T0 + TIMING.heartbeat_interval_us
    g.tick(0, t)
    g.pump(t)
    assert list(g.node(2).log_entries()) == list(g.node(0).log_entries())
