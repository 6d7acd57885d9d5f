"""Catch-up from a peer's log and from its snapshot; stale older-ballot entries never applied."""

from __future__ import annotations

from consensus import Ballot, Replica, ReplicaConfig
from consensus.effects import Apply, InstallSnapshot, Send
from consensus.events import Receive, Tick
from consensus.messages import Accept, CatchUpReply, CatchUpRequest, SlotEntry
from tests.consensus.group import FAST, Group, decode_snapshot


def lagging_group() -> tuple[Group, int, int]:
    """A group whose follower ``lag`` missed 5 committed writes while cut off."""
    g = Group(3)
    leader = g.elect()
    lag = next(i for i in g.members if i != leader)
    for k in range(5):
        g.write(leader, 1, k, b"w%d" % k)
    g.run(50_000, drop=lambda s, d, m: lag in (s, d))
    assert g.replica(leader).commit_index == 5 and g.nodes[lag].applied_slot == 0
    return g, leader, lag


def test_catch_up_from_log() -> None:
    g, leader, lag = lagging_group()
    g.run(50_000)
    assert any(isinstance(e, Send) and isinstance(e.msg, CatchUpRequest)
               for e in g.nodes[lag].effects)
    assert g.nodes[lag].sm == g.nodes[leader].sm
    assert g.replica(lag).commit_index == 5


def test_catch_up_from_snapshot() -> None:
    g, leader, lag = lagging_group()
    g.compact(leader)
    other = next(i for i in g.members if i not in (leader, lag))
    g.compact(other)
    assert g.replica(leader).accepted == {} and g.replica(leader).snapshot_slot == 5
    g.write(leader, 1, 99, b"after")
    g.run(50_000)
    installs = [e for e in g.nodes[lag].effects if isinstance(e, InstallSnapshot)]
    assert [e.slot for e in installs] == [5]
    assert decode_snapshot(installs[0].snapshot) == {k + 1: b"w%d" % k for k in range(5)}
    applies = [e.slot for e in g.nodes[lag].effects if isinstance(e, Apply)]
    assert applies == [6]
    assert g.nodes[lag].sm == g.nodes[leader].sm


def test_stale_entry_from_older_ballot_is_not_applied() -> None:
    cfg = ReplicaConfig(node_id=1, members=(1, 2, 3), timing=FAST)
    r = Replica(cfg, lambda label, n: 0)
    r.step(Tick(), 0)
    old, new = Ballot(1, 2), Ballot(2, 3)
    r.step(Receive(src=2, msg=Accept(ballot=old, first_slot=1, commands=(b"X",),
                                     commit_index=0, stamp_us=0)), 1)
    # the new leader chose Y at slot 1 without us, and reports commit 1
    effects = r.step(Receive(src=3, msg=Accept(ballot=new, first_slot=2, commands=(),
                                               commit_index=1, stamp_us=5)), 2)
    assert not any(isinstance(e, Apply) for e in effects)
    assert r.commit_index == 0
    [req] = [e for e in effects if isinstance(e, Send) and isinstance(e.msg, CatchUpRequest)]
    assert req.dst == 3 and req.msg.from_slot == 1
    reply = CatchUpReply(ballot=new, snapshot_slot=0, snapshot=b"",
                         entries=(SlotEntry(slot=1, ballot=new, command=b"Y"),))
    effects = r.step(Receive(src=3, msg=reply), 3)
    assert [e for e in effects if isinstance(e, Apply)] == [Apply(slot=1, command=b"Y")]
    assert r.accepted[1].command == b"Y"


def test_catch_up_retries_another_peer() -> None:
    cfg = ReplicaConfig(node_id=1, members=(1, 2, 3), timing=FAST)
    r = Replica(cfg, lambda label, n: 0)
    r.step(Tick(), 0)
    hb = Accept(ballot=Ballot(1, 2), first_slot=4, commands=(), commit_index=3, stamp_us=0)
    first = [e.dst for e in r.step(Receive(src=2, msg=hb), 1) if isinstance(e, Send)
             and isinstance(e.msg, CatchUpRequest)]
    again = [e.dst for e in r.step(Receive(src=2, msg=hb), 2) if isinstance(e, Send)
             and isinstance(e.msg, CatchUpRequest)]
    later = [e.dst for e in r.step(Receive(src=2, msg=hb), 10 * FAST.heartbeat_interval_us)
             if isinstance(e, Send) and isinstance(e.msg, CatchUpRequest)]
    assert (first, again, later) == ([2], [], [3])
