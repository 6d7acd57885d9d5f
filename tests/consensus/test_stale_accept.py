"""A late copy of an old-ballot Accept must never rewrite a slot the replica knows is chosen.

The history, in a group of 5 (node 1 is the replica under test):
- leader 2 runs ballot b1 = (1, 2); node 1 promises b1, then gets Accept(b1, slot 2 = vA)
  whose commit index (1) covers a slot it never saw, so it asks node 2 to catch it up;
- ballot b2 = (2, 3) takes over with nodes 3, 4, 5 and chooses vB at slot 2; node 2 now
  follows b2 and answers node 1's request with slot 2 = (b2, vB), the chosen value; node 1
  commits and applies vB;
- a delayed (or duplicated) copy of the b1 Accept reaches node 1.

That copy must not change slot 2: node 1 would ship vA as chosen in catch-up replies and
re-apply vA from its WAL after a restart (applied prefixes diverge, S2). And no accepted
ballot may exceed the promise (S15), which the catch-up entry at b2 broke while the promise
stayed at b1.
"""

from __future__ import annotations

from consensus import Ballot, Replica, ReplicaConfig
from consensus.effects import Apply, Effect, Persist, Send
from consensus.events import Receive, Tick
from consensus.messages import Accept, Accepted, CatchUpReply, CatchUpRequest, Prepare, SlotEntry
from tests.consensus.group import FAST

B0, B1, B2 = Ballot(1, 1), Ballot(1, 2), Ballot(2, 3)
V0, VA, VB = b"v0", b"vA", b"vB"


def _config() -> ReplicaConfig:
    return ReplicaConfig(node_id=1, members=(1, 2, 3, 4, 5), timing=FAST)


def _wal(effects: list[Effect]) -> list[bytes]:
    return [rec for e in effects if isinstance(e, Persist) for rec in e.records]


def _late_accept_scenario(late_copy: bool = True) -> tuple[Replica, list[Effect]]:
    """Drive node 1 through the history above (the late copy only if ``late_copy``); return
    it and every effect it emitted."""
    r = Replica(_config(), lambda label, n: 0)
    out: list[Effect] = []
    out += r.step(Tick(), 0)
    out += r.step(Receive(src=2, msg=Prepare(ballot=B1, from_slot=1)), 10)
    stale = Accept(ballot=B1, first_slot=2, commands=(VA,), commit_index=1, stamp_us=20)
    effects = r.step(Receive(src=2, msg=stale), 20)
    out += effects
    asks = [e for e in effects if isinstance(e, Send) and isinstance(e.msg, CatchUpRequest)]
    assert [(e.dst, e.msg.from_slot) for e in asks] == [(2, 1)]
    assert r.commit_index == 0 and r.accepted[2].command == VA
    reply = CatchUpReply(
        ballot=B2,
        snapshot_slot=0,
        snapshot=b"",
        entries=(SlotEntry(slot=1, ballot=B0, command=V0), SlotEntry(slot=2, ballot=B2,
                                                                      command=VB)),
    )
    effects = r.step(Receive(src=2, msg=reply), 30)
    out += effects
    assert [e for e in effects if isinstance(e, Apply)] == [
        Apply(slot=1, command=V0), Apply(slot=2, command=VB)]
    assert r.commit_index == 2
    if late_copy:
        out += r.step(Receive(src=2, msg=stale), 40)
    return r, out


def test_late_old_ballot_accept_leaves_a_chosen_slot_alone() -> None:
    r, _ = _late_accept_scenario()
    assert r.commit_index == 2
    assert r.accepted[2].command == VB


def test_no_accepted_ballot_above_the_promise_after_catch_up() -> None:
    r, _ = _late_accept_scenario(late_copy=False)
    above = {s: e.ballot for s, e in r.accepted.items() if e.ballot > r.promised}
    assert above == {}, f"promised={r.promised}, accepted above it: {above}"


def test_catch_up_served_afterwards_ships_the_chosen_value() -> None:
    r, _ = _late_accept_scenario()
    effects = r.step(Receive(src=4, msg=CatchUpRequest(ballot=B2, from_slot=1)), 50)
    [reply] = [e.msg for e in effects if isinstance(e, Send) and isinstance(e.msg, CatchUpReply)]
    assert {e.slot: e.command for e in reply.entries} == {1: V0, 2: VB}


def test_restart_from_the_wal_reapplies_the_chosen_value() -> None:
    _, out = _late_accept_scenario()
    again = Replica(_config(), lambda label, n: 0, records=_wal(out), applied_slot=1)
    applied = [e for e in again.step(Tick(), 1_000) if isinstance(e, Apply)]
    assert applied == [Apply(slot=2, command=VB)]


def test_an_accept_that_contradicts_a_chosen_slot_is_neither_stored_nor_acknowledged() -> None:
    # Unreachable while accepted <= promised holds (any ballot >= the promise proposes the
    # chosen value); the acceptor still never changes a committed slot nor acknowledges it.
    r = Replica(_config(), lambda label, n: 0)
    r.step(Tick(), 0)
    r.step(Receive(src=2, msg=Accept(ballot=B1, first_slot=1, commands=(VA,), commit_index=0,
                                     stamp_us=0)), 10)
    r.step(Receive(src=2, msg=Accept(ballot=B1, first_slot=2, commands=(), commit_index=1,
                                     stamp_us=0)), 20)
    assert r.commit_index == 1
    bad = Accept(ballot=B2, first_slot=1, commands=(VB, V0), commit_index=1, stamp_us=30)
    effects = r.step(Receive(src=3, msg=bad), 30)
    assert r.accepted[1].command == VA
    assert not [e for e in effects if isinstance(e, Send) and isinstance(e.msg, Accepted)]
    same = Accept(ballot=B2, first_slot=1, commands=(VA, V0), commit_index=1, stamp_us=40)
    effects = r.step(Receive(src=3, msg=same), 40)
    acks = [e.msg for e in effects if isinstance(e, Send) and isinstance(e.msg, Accepted)]
    # the chosen value again, under a newer ballot: stored (the spec's Accept) and acknowledged
    assert len(acks) == 1 and r.accepted[1].ballot == B2 and r.accepted[1].command == VA
