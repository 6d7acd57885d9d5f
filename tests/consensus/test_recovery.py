"""Recovery from persisted records: S3 across restart, re-apply, checkpoints."""

from __future__ import annotations

from consensus import Ballot, Replica, ReplicaConfig
from consensus.effects import Apply, InstallSnapshot, Persist, Send
from consensus.events import Receive, Tick
from consensus.messages import Prepare, Promise
from consensus.records import CheckpointRecord, decode_record
from tests.consensus.group import FAST, Group


def test_rebuilt_replicas_have_the_same_promise_and_entries() -> None:
    g = Group(3)
    leader = g.elect()
    for k in range(6):
        g.write(leader, 1, k, b"w%d" % k)
    g.run(50_000)
    for i, n in g.nodes.items():
        again = Replica(n.config, g.choose, records=n.wal, applied_slot=n.applied_slot)
        assert again.promised == n.replica.promised
        assert dict(again.accepted) == dict(n.replica.accepted)
        assert again.commit_index <= n.replica.commit_index, i


def test_restart_keeps_promise_and_reapplies_from_checkpoint() -> None:
    g = Group(3)
    leader = g.elect()
    for k in range(4):
        g.write(leader, 1, k, b"w%d" % k)
    g.run(50_000)
    g.write(leader, 1, 5, b"w5")  # its Persist carries the commit hint 4 (the hint may lag)
    n = g.nodes[leader]
    r = Replica(n.config, g.choose, records=n.wal, applied_slot=2)
    effects = r.step(Tick(), n.clock_us)
    assert [e.slot for e in effects if isinstance(e, Apply)] == [3, 4]
    assert r.promised == n.replica.promised and r.applied_index == 4


def test_checkpoint_replaces_the_wal_and_restart_installs_the_snapshot() -> None:
    g = Group(3)
    leader = g.elect()
    for k in range(4):
        g.write(leader, 1, k, b"w%d" % k)
    g.run(50_000)
    [persist] = [e for e in g.compact(leader) if isinstance(e, Persist)]
    assert persist.checkpoint
    first = decode_record(persist.records[0])
    assert isinstance(first, CheckpointRecord) and first.snapshot_slot == 4
    n = g.nodes[leader]
    r = Replica(n.config, g.choose, records=n.wal, applied_slot=0)
    effects = r.step(Tick(), n.clock_us)
    assert isinstance(effects[0], InstallSnapshot) and effects[0].slot == 4
    assert r.promised == n.replica.promised and r.commit_index == 4


def test_promise_is_persisted_before_it_is_sent_and_survives_restart() -> None:
    cfg = ReplicaConfig(node_id=1, members=(1, 2, 3), timing=FAST)
    r = Replica(cfg, lambda label, n: 0)
    r.step(Tick(), 0)
    effects = r.step(Receive(src=2, msg=Prepare(ballot=Ballot(3, 2), from_slot=1)), 5)
    assert isinstance(effects[0], Persist)
    assert isinstance(effects[1], Send) and isinstance(effects[1].msg, Promise)
    again = Replica(cfg, lambda label, n: 0, records=effects[0].records)
    assert again.promised == Ballot(3, 2)
    # and the restarted acceptor refuses the lower ballot it promised not to accept
    again.step(Tick(), 0)
    out = again.step(Receive(src=3, msg=Prepare(ballot=Ballot(2, 3), from_slot=1)), 1)
    assert [type(e.msg).__name__ for e in out if isinstance(e, Send)] == ["Nack"]
