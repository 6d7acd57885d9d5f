"""Compaction, InstallSnapshot catch-up, and recovery from WAL records + applied slot."""

from __future__ import annotations

import marshal

import pytest

from consensus.effects import Apply, InstallSnapshot, Persist
from consensus.events import ClientWrite, Compact, Tick
from consensus.raft import RaftConfig, RaftReplica
from consensus.raft.messages import InstallSnapshot as InstallSnapshotMsg
from consensus.raft.records import replay
from tests.consensus.raft.group import TIMING, Group
from tests.consensus.raft.schedules import campaign
from tests.consensus.raft.test_replication import T0, elected


def write_n(g: Group, n: int, t: int, allow: object = None) -> None:
    for k in range(n):
        g.step(g.leaders()[0], ClientWrite(client_id=1, request_id=k, command=b"v%d" % k), t)
    if allow is None:
        g.pump(t)
    else:
        g.pump(t, allow)  # type: ignore[arg-type]


def test_compact_truncates_the_log_with_a_checkpoint_that_alone_rebuilds_it() -> None:
    g = elected()
    write_n(g, 5, T0 + 1)
    n = g.node(0)
    snap = marshal.dumps(tuple(g.sm[0][:4]), 2)
    effects = n.step(Compact(slot=4, snapshot=snap), g.local(0, T0 + 2))
    (p,) = [e for e in effects if isinstance(e, Persist)]
    assert p.checkpoint
    state = replay(p.records)
    assert (state.log.snap_index, state.log.snapshot) == (4, snap)
    assert list(state.log.items()) == list(n.log_entries()) == [(5, 1, b"v3"), (6, 1, b"v4")]
    assert (state.term, state.voted_for) == (n.term, n.voted_for)
    assert n.first_index == 5 and n.snapshot_index == 4
    assert n.step(Compact(slot=3, snapshot=b""), g.local(0, T0 + 3)) == []  # older: ignored


def test_a_follower_behind_the_snapshot_gets_it_and_catches_up() -> None:
    g = elected(compact_every=3)
    write_n(g, 8, T0 + 1, lambda m: 2 not in (m.src, m.dst))
    assert g.node(0).snapshot_index >= 3
    sent: list[object] = []
    g.on_step = lambda i, effects: sent.extend(effects)
    t = T0 + TIMING.heartbeat_interval_us
    g.tick(0, t)
    g.pump(t)
    installs = [e for e in sent if isinstance(e, InstallSnapshot)]
    assert installs and installs[0].slot == g.node(0).snapshot_index
    assert any(type(m).__name__ == "Send" and isinstance(m.msg, InstallSnapshotMsg)  # type: ignore[attr-defined]
               for m in sent)
    g.tick(0, t + TIMING.heartbeat_interval_us)
    g.pump(t + TIMING.heartbeat_interval_us)
    assert g.sm[2] == g.sm[0] and len(g.sm[0]) == 9
    assert g.node(2).applied_index == 9


def test_restart_rebuilds_from_records_and_reapplies_after_the_checkpoint() -> None:
    g = elected(compact_every=4)
    write_n(g, 6, T0 + 1)
    before = list(g.node(0).log_entries())
    term, commit = g.node(0).term, g.node(0).commit_index
    slot = g.ckpt[0][0]
    assert 0 < slot < commit
    g.crash(0)
    applied: list[Apply] = []

    def on_step(i: int, effects: list[object]) -> None:
        applied.extend(e for e in effects if i == 0 and isinstance(e, Apply))

    g.on_step = on_step
    g.start(0, T0 + 10)
    n = g.node(0)
    assert (n.term, n.voted_for, list(n.log_entries())) == (term, 0, before)
    assert n.applied_index == slot and n.commit_index == slot
    won, t = campaign(g, 1, lambda m: True, T0 + 10)
    assert won
    g.tick(1, t + TIMING.heartbeat_interval_us)
    g.pump(t + TIMING.heartbeat_interval_us)
    assert [a.slot for a in applied][:commit - slot] == list(range(slot + 1, commit + 1))
    assert g.sm[0][:commit] == g.sm[1][:commit]


def test_restart_below_the_snapshot_installs_it_first() -> None:
    g = elected(compact_every=3)
    write_n(g, 4, T0 + 1)
    records = list(g.wal[0])
    snap_index = replay(records).log.snap_index
    cfg = RaftConfig(node_id=0, members=(0, 1, 2), timing=TIMING)
    n = RaftReplica(cfg, lambda label, k: 0, records=records, applied_slot=0)
    effects = n.step(Tick(), 0)
    assert isinstance(effects[0], InstallSnapshot) and effects[0].slot == snap_index
    assert n.applied_index == snap_index


def test_applied_slot_beyond_the_log_is_refused() -> None:
    cfg = RaftConfig(node_id=0, members=(0, 1, 2), timing=TIMING)
    with pytest.raises(ValueError, match="applied_slot"):
        RaftReplica(cfg, lambda label, k: 0, records=(), applied_slot=3)
